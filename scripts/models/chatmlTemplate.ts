/**
 * A ChatML chat template (the common Jinja form), embedded as `tokenizer.chat_template` so that
 * node-llama-cpp picks a chat wrapper for the generated models. Its `<|im_start|>` and
 * `<|im_end|>` markers are control tokens in every generated vocabulary.
 */
export const CHATML_TEMPLATE =
  '{% for message in messages %}' +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
