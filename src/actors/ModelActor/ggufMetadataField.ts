/**
 * @internal A value of parsed GGUF metadata by its dotted key (`general.type`, `adapter.lora.alpha`),
 * `undefined` where the file has none. node-llama-cpp types metadata as a model's, but the file
 * decides what is there (an adapter has `adapter.*` keys, a damaged file may lack `general.*`), so
 * the value is `unknown` and the caller checks its type.
 */
export function ggufMetadataField(metadata: object, key: string): unknown {
  let value: unknown = metadata;
  for (const part of key.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = Reflect.get(value, part);
  }
  return value;
}
