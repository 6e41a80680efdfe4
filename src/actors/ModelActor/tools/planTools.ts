import type { ChatModelFunctions, LlamaGrammar } from 'node-llama-cpp';
import { checkJsonSchema } from '../checkJsonSchema.js';
import { InvalidParameterError, UnsupportedSchemaError } from '../modelErrors.js';
import type { GenerateRequest, ToolChoice, ToolDefinition } from '../types.js';
import type { ToolCallSyntax } from './ToolCallSyntax.js';

/** Most tools one request may declare. */
export const MAX_TOOLS = 128;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NO_ARGUMENTS = { type: 'object', properties: {} } as const;

/** @internal A request's tools, checked, with their argument grammars compiled. */
export interface ToolPlan {
  /** The argument grammar of each tool, by name. */
  arguments: Map<string, LlamaGrammar>;
  /** The names the model may call now (one: the call is forced; several: a grammar picks). */
  candidates: string[];
  /** Grammar over the candidate names, when there are several. */
  nameGrammar: LlamaGrammar | undefined;
  choice: Exclude<ToolChoice, { name: string }> | 'named';
  /** Whether one reply may make several calls (the request allows it and the model's family can). */
  parallel: boolean;
  syntax: ToolCallSyntax;
  /** The tools as the chat template shows them. */
  functions: ChatModelFunctions;
}

/** @internal What compiling tool grammars needs. */
export interface ToolGrammars {
  jsonSchema: (schema: object) => Promise<LlamaGrammar>;
  gbnf: (text: string) => Promise<LlamaGrammar>;
}

/**
 * @internal Checks `tools`, `toolChoice` and `parallelToolCalls` (`INVALID_PARAMETER` naming the
 * field and value; `UNSUPPORTED_SCHEMA` for a parameters keyword the grammar cannot enforce) and
 * compiles the grammars. `undefined` when the request has no tools.
 */
export async function planTools(request: GenerateRequest, syntax: ToolCallSyntax, grammars: ToolGrammars): Promise<ToolPlan | undefined> {
  const tools = request.tools;
  if (tools === undefined || (Array.isArray(tools) && tools.length === 0 && request.toolChoice === undefined)) return undefined;
  if (!Array.isArray(tools)) throw new InvalidParameterError('tools', `expected an array of tools, got ${JSON.stringify(tools)}`);
  if (tools.length > MAX_TOOLS) throw new InvalidParameterError('tools', `${tools.length} tools, limit ${MAX_TOOLS}`);
  const schemas = new Map<string, object>();
  const functions: Record<string, { description?: string; params?: object }> = {};
  for (const [index, tool] of tools.entries()) {
    const schema = checkTool(tool, index, schemas);
    schemas.set(tool.name, schema);
    functions[tool.name] = { ...(tool.description ? { description: tool.description } : {}), params: schema };
  }
  const { choice, candidates } = resolveChoice(request.toolChoice, [...schemas.keys()]);
  const parallel = request.parallelToolCalls ?? true;
  if (typeof parallel !== 'boolean') throw new InvalidParameterError('parallelToolCalls', `expected a boolean, got ${JSON.stringify(parallel)}`);
  const compiled = new Map<string, LlamaGrammar>();
  for (const [name, schema] of schemas) compiled.set(name, await grammars.jsonSchema(schema));
  const nameGrammar = candidates.length > 1 ? await grammars.gbnf(`root ::= ${candidates.map((n) => JSON.stringify(n)).join(' | ')}`) : undefined;
  return {
    arguments: compiled,
    candidates,
    nameGrammar,
    choice,
    parallel: parallel && syntax.parallel,
    syntax,
    functions: functions as ChatModelFunctions,
  };
}

function checkTool(tool: ToolDefinition, index: number, seen: Map<string, object>): object {
  const where = `tools[${index}]`;
  if (typeof tool !== 'object' || tool === null) throw new InvalidParameterError(where, `expected { name, description?, parameters? }, got ${JSON.stringify(tool)}`);
  if (typeof tool.name !== 'string' || !NAME.test(tool.name)) {
    throw new InvalidParameterError(`${where}.name`, `expected 1 to 64 characters of a-z, A-Z, 0-9, _ and -, got ${JSON.stringify(tool.name)}`);
  }
  if (seen.has(tool.name)) throw new InvalidParameterError(`${where}.name`, `${JSON.stringify(tool.name)} is declared twice`);
  if (tool.description !== undefined && typeof tool.description !== 'string') {
    throw new InvalidParameterError(`${where}.description`, `expected a string, got ${JSON.stringify(tool.description)}`);
  }
  const parameters = tool.parameters ?? NO_ARGUMENTS;
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters) || (parameters as { type?: unknown }).type !== 'object') {
    throw new InvalidParameterError(`${where}.parameters`, `expected a JSON schema of type object, got ${JSON.stringify(parameters).slice(0, 200)}`);
  }
  try {
    return checkJsonSchema(parameters);
  } catch (error) {
    // The pointer names the tool, so the caller finds the keyword in its request.
    if (error instanceof UnsupportedSchemaError) throw new UnsupportedSchemaError(error.keyword, `/tools/${index}/parameters${error.pointer}`, error.reason);
    throw error;
  }
}

function resolveChoice(choice: ToolChoice | undefined, names: string[]): { choice: ToolPlan['choice']; candidates: string[] } {
  if (choice === undefined || choice === 'auto' || choice === 'none' || choice === 'required') {
    const resolved = choice ?? 'auto';
    if (resolved === 'required' && names.length === 0) throw new InvalidParameterError('toolChoice', 'required, but no tools are given');
    return { choice: resolved, candidates: names };
  }
  if (typeof choice === 'object' && choice !== null && typeof choice.name === 'string') {
    if (!names.includes(choice.name)) {
      throw new InvalidParameterError('toolChoice', `names ${JSON.stringify(choice.name)}, which is not among the tools (${names.join(', ') || 'none'})`);
    }
    return { choice: 'named', candidates: [choice.name] };
  }
  throw new InvalidParameterError('toolChoice', `expected auto, none, required or { name }, got ${JSON.stringify(choice)}`);
}
