import { GgmlType, readGgufFileInfo } from 'node-llama-cpp';
import { ggufMetadataField } from '../../ModelActor/ggufMetadataField.js';

/** One tensor of a GGUF file, as the trainer and the LoRA extraction need it. */
export interface GgufTensor {
  readonly name: string;
  /** ggml type id (`0` F32, `1` F16, `30` BF16, ...). */
  readonly type: number;
  /** Type name, e.g. `F32`, `Q4_K`. */
  readonly typeName: string;
  /** ggml shape `[ne0, ne1, ...]`: ne0 is the contiguous dimension. */
  readonly shape: readonly number[];
  readonly elements: number;
  /** Absolute offset of the tensor's data in the file. */
  readonly fileOffset: number;
}

/** What a GGUF model file says about itself. */
export interface GgufModelInfo {
  readonly path: string;
  readonly architecture: string;
  /** `<arch>.context_length`, when present. */
  readonly contextLength: number | undefined;
  /** Tokens in the vocabulary (`tokenizer.ggml.tokens`, else `<arch>.vocab_size`, else the embedding's rows). */
  readonly vocabularySize: number;
  /** `general.type`, e.g. `model` or `adapter`, when present. */
  readonly fileType: string | undefined;
  readonly tensors: readonly GgufTensor[];
}

/** Tensor types llama.cpp's trainer can start from: F32 directly, F16 / BF16 after conversion. */
export const TRAINABLE_GGML_TYPES: ReadonlySet<number> = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);

/**
 * Reads a GGUF's metadata and tensor table (not the tensor data) with node-llama-cpp's parser.
 *
 * @throws whatever reading the file throws (ENOENT, not a GGUF, split files are not supported).
 */
export async function inspectGgufModel(path: string): Promise<GgufModelInfo> {
  const info = await readGgufFileInfo(path, { logWarnings: false, spliceSplitFiles: false, sourceType: 'filesystem' });
  const tensors = (info.tensorInfo ?? []).map((tensor): GgufTensor => {
    const shape = tensor.dimensions.map(Number);
    return {
      name: tensor.name,
      type: tensor.ggmlType,
      typeName: GgmlType[tensor.ggmlType] ?? `type ${tensor.ggmlType}`,
      shape,
      elements: shape.reduce((product, dimension) => product * dimension, 1),
      fileOffset: Number(tensor.fileOffset),
    };
  });
  // The file decides which keys exist (node-llama-cpp's types describe a model's): read them checked.
  const architectureField = ggufMetadataField(info.metadata, 'general.architecture');
  const fileTypeField = ggufMetadataField(info.metadata, 'general.type');
  const tokens = ggufMetadataField(info.metadata, 'tokenizer.ggml.tokens');
  const architecture = typeof architectureField === 'string' ? architectureField : 'unknown';
  const architectureMetadata = info.architectureMetadata as { context_length?: number; vocab_size?: number };
  const embedding = tensors.find((tensor) => tensor.name === 'token_embd.weight');
  const vocabularySize =
    (Array.isArray(tokens) ? tokens.length : undefined) ?? architectureMetadata.vocab_size ?? embedding?.shape[1] ?? 0;
  return {
    path,
    architecture,
    contextLength: architectureMetadata.context_length,
    vocabularySize,
    fileType: typeof fileTypeField === 'string' ? fileTypeField : undefined,
    tensors,
  };
}
