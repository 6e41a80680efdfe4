import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type GgufFileInfo, type GgufTensorInfo, readGgufFileInfo } from 'node-llama-cpp';
import { AbortedError } from '../../messaging/errors.js';
import { AdapterFileNotFoundError, IncompatibleAdapterError, NotAnAdapterError } from './adapterErrors.js';
import { ggufMetadataField } from './ggufMetadataField.js';

/** What {@link validateAdapter} found in a LoRA adapter that fits its base model. */
export interface AdapterInfo {
  /** Absolute path of the adapter file. */
  path: string;
  /** `general.name` of the adapter, when it has one. */
  name: string | undefined;
  architecture: string;
  /** LoRA rank (the inner dimension of every `lora_a` / `lora_b` pair). */
  rank: number;
  /** `adapter.lora.alpha`; llama.cpp scales the update by `scale · alpha / rank` (alpha 0 means 1). */
  alpha: number;
  /** Names of the base tensors the adapter changes. */
  targets: string[];
  /** Numbers in the adapter's `lora_a` and `lora_b` tensors. */
  parameters: number;
  /** File size in bytes (what loading it costs in memory, once per model). */
  sizeBytes: number;
}

/** Options of {@link validateAdapter}. */
export interface ValidateAdapterOptions {
  signal?: AbortSignal;
}

const LORA_A = '.lora_a';
const LORA_B = '.lora_b';

/**
 * Checks a LoRA adapter against its base model before anything is loaded, with llama.cpp's own
 * rules: the file is a GGUF with `general.type = adapter` and `adapter.type = lora`, its
 * architecture is the base model's, every `<tensor>.lora_a` has its `.lora_b`, the tensor exists in
 * the base model, and for a base tensor of ggml shape `[n_in, n_out]` the pair is `[n_in, r]` and
 * `[r, n_out]` (flipped for the token embedding). Throws `ADAPTER_FILE_NOT_FOUND`, `NOT_AN_ADAPTER` or
 * `INCOMPATIBLE_ADAPTER` naming the tensor and both shapes.
 *
 * `base` is the base model's path or its parsed GGUF info (a loaded `LlamaModel`'s `fileInfo`).
 *
 * @example
 * ```ts
 * const info = await validateAdapter('adapters/style.gguf', 'models/base.gguf');
 * console.log(`rank ${info.rank}, ${info.targets.length} tensors`);
 * ```
 */
export async function validateAdapter(
  adapterPath: string,
  base: string | GgufFileInfo,
  options: ValidateAdapterOptions = {},
): Promise<AdapterInfo> {
  const path = resolve(adapterPath);
  const signal = options.signal;
  const check = (): void => {
    if (signal?.aborted) throw new AbortedError('validating an adapter', { cause: signal.reason });
  };
  const sizeBytes = await adapterSize(path);
  check();
  await checkMagic(path);
  let adapter: GgufFileInfo;
  try {
    adapter = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false, sourceType: 'filesystem' });
  } catch (error) {
    throw new NotAnAdapterError(path, `unreadable GGUF: ${(error as Error).message}`);
  }
  check();
  const baseInfo =
    typeof base === 'string'
      ? await readGgufFileInfo(resolve(base), {
          readTensorInfo: true,
          logWarnings: false,
          sourceType: 'filesystem',
          ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
        })
      : base;
  check();
  const header = checkHeader(path, adapter, baseInfo);
  const pairs = loraPairs(path, adapter);
  const { rank, parameters } = checkPairs(path, pairs, baseInfo);
  const { name, architecture, alpha } = header;
  return { path, name, architecture, rank, alpha, targets: [...pairs.keys()], parameters, sizeBytes };
}

/** A `lora_a` / `lora_b` pair of an adapter, by the base tensor it changes. */
type LoraPairs = Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>;

async function adapterSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new AdapterFileNotFoundError(path);
    throw new NotAnAdapterError(path, (error as Error).message);
  }
}

/** The adapter's type and architecture checked against the base model's; its name and alpha. */
function checkHeader(path: string, adapter: GgufFileInfo, baseInfo: GgufFileInfo): Pick<AdapterInfo, 'name' | 'architecture' | 'alpha'> {
  const field = (key: string) => ggufMetadataField(adapter.metadata, key);
  const generalType = field('general.type');
  if (generalType !== 'adapter') {
    throw new NotAnAdapterError(path, `general.type is ${JSON.stringify(generalType ?? null)}, not "adapter"`);
  }
  const adapterType = field('adapter.type');
  if (adapterType !== 'lora') {
    throw new NotAnAdapterError(path, `adapter.type is ${JSON.stringify(adapterType ?? null)}, not "lora"`);
  }
  const architecture = String(field('general.architecture') ?? '');
  const baseArchitecture = String(ggufMetadataField(baseInfo.metadata, 'general.architecture') ?? '');
  if (architecture !== baseArchitecture) {
    throw new IncompatibleAdapterError(path, `architecture ${JSON.stringify(architecture)}, base model ${JSON.stringify(baseArchitecture)}`);
  }
  const alpha = field('adapter.lora.alpha');
  const name = field('general.name');
  return { name: typeof name === 'string' ? name : undefined, architecture, alpha: typeof alpha === 'number' ? alpha : 0 };
}

/** The adapter's tensors as pairs; llama.cpp skips norm vectors and refuses anything else. */
function loraPairs(path: string, adapter: GgufFileInfo): LoraPairs {
  const pairs: LoraPairs = new Map();
  for (const tensor of adapter.tensorInfo ?? []) {
    const suffix = tensor.name.endsWith(LORA_A) ? 'a' : tensor.name.endsWith(LORA_B) ? 'b' : undefined;
    if (suffix === undefined) {
      if (tensor.name.endsWith('_norm.weight')) continue;
      throw new NotAnAdapterError(path, `tensor ${tensor.name} is neither a .lora_a nor a .lora_b`);
    }
    const target = tensor.name.slice(0, -LORA_A.length);
    const pair = pairs.get(target) ?? {};
    pair[suffix] = tensor;
    pairs.set(target, pair);
  }
  if (pairs.size === 0) throw new NotAnAdapterError(path, 'it has no LoRA tensors');
  return pairs;
}

/** Every pair complete, its base tensor present and the shapes fitting it; the rank and the numbers in the pairs. */
function checkPairs(path: string, pairs: LoraPairs, baseInfo: GgufFileInfo): { rank: number; parameters: number } {
  const baseTensors = new Map((baseInfo.tensorInfo ?? []).map((t) => [t.name, t]));
  let rank: number | undefined;
  let parameters = 0;
  for (const [target, { a, b }] of pairs) {
    if (!a || !b) {
      throw new IncompatibleAdapterError(path, `tensor ${target} has a ${a ? 'lora_a' : 'lora_b'} but no ${a ? 'lora_b' : 'lora_a'}`, target);
    }
    const baseTensor = baseTensors.get(target);
    if (!baseTensor) throw new IncompatibleAdapterError(path, `tensor ${target} does not exist in the base model`, target);
    const [nIn, nOut] = dims(baseTensor);
    const [aIn, aRank] = dims(a);
    const [bRank, bOut] = dims(b);
    const isTokenEmbedding = target === 'token_embd.weight';
    // The token embedding is a lookup, not a product: llama.cpp expects its A and B the other way round.
    const fits = isTokenEmbedding ? nIn === bOut && nOut === aRank : nIn === aIn && nOut === bOut;
    if (!fits) {
      throw new IncompatibleAdapterError(
        path,
        `tensor ${target} is [${nIn}, ${nOut}] in the base model but its lora_a is [${aIn}, ${aRank}] and lora_b [${bRank}, ${bOut}]` +
          (isTokenEmbedding ? '' : ` (expected [${nIn}, r] and [r, ${nOut}])`),
        target,
      );
    }
    if (!isTokenEmbedding && aRank !== bRank) {
      throw new IncompatibleAdapterError(path, `tensor ${target} has lora_a rank ${aRank} but lora_b rank ${bRank}`, target);
    }
    rank ??= isTokenEmbedding ? aIn : aRank;
    parameters += elements(a) + elements(b);
  }
  return { rank: rank ?? 0, parameters };
}

function dims(tensor: GgufTensorInfo): [number, number] {
  const [first = 1, second = 1] = tensor.dimensions.map(Number);
  return [first, second];
}

function elements(tensor: GgufTensorInfo): number {
  return tensor.dimensions.reduce<number>((product, d) => product * Number(d), 1);
}

async function checkMagic(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead < 4 || magic.toString('latin1') !== 'GGUF') {
      throw new NotAnAdapterError(path, `starts with ${JSON.stringify(magic.subarray(0, bytesRead).toString('latin1'))}, not "GGUF"`);
    }
  } finally {
    await handle.close();
  }
}
