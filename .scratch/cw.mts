import { getLlama, resolveChatWrapper, LlamaText } from 'node-llama-cpp';
const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: 'models/tiny.gguf' });
const cw = resolveChatWrapper(model);
console.log(cw.wrapperName, JSON.stringify(cw.settings.functions, null, 1));
const st = cw.generateContextState({ chatHistory: [
  { type: 'system', text: 'sys' }, { type: 'user', text: 'weather?' },
  { type: 'model', response: [{ type: 'functionCall', name: 'getWeather', params: { city: 'Paris' }, result: { t: 20 } }, 'It is 20.'] },
  { type: 'user', text: 'ok' }, { type: 'model', response: [] }],
  availableFunctions: { getWeather: { description: 'Gets weather', params: { type: 'object', properties: { city: { type: 'string' } } } } }, documentFunctionParams: true });
console.log(st.contextText.toString());
console.log(JSON.stringify(st.stopGenerationTriggers));
const g = await llama.createGrammarForJsonSchema({ type: 'object', properties: { city: { type: 'string' }, n: { type: 'integer' } }, required: ['city'] });
console.log(g.grammar);
