/**
 * Generates a random-weight vision projector (`mmproj`) for the tiny model, the way
 * `scripts/make-models.ts` generates text models: deterministic from a fixed seed, written under
 * `models/` (git-ignored) with a sidecar, rebuilt only when its parameters change. llama.cpp's
 * mtmd (`llama-server --mmproj`) loads it, so image input can be tested with no downloaded weights.
 *
 * The layout is the simplest projector clip.cpp supports, llava's `mlp` (tools/mtmd/clip.cpp,
 * `PROJECTOR_TYPE_MLP`, graph in tools/mtmd/models/llava.cpp): a tiny ViT (patch convolution,
 * position embeddings, pre-norm blocks of attention and a GELU FFN) whose last block is skipped
 * (llava takes the penultimate layer), then `mm.0` → GELU → `mm.2` up to the text model's width.
 * An image becomes (image_size / patch_size)² embeddings: 4 with the defaults below.
 *
 * ```sh
 * npx tsx scripts/makeProjector.ts          # prints models/tiny-mmproj.gguf
 * llama-server -m models/tiny.gguf --mmproj models/tiny-mmproj.gguf
 * ```
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GgmlType } from '../src/gguf/GgmlType.js';
import { GgufValue } from '../src/gguf/GgufValue.js';
import { GgufWriter, type GgufWriteResult } from '../src/gguf/GgufWriter.js';
import { GENERATOR_VERSION, MODELS_DIR, ensureTinyModel } from './make-models.js';
import { ensureBuilt } from './models/ensureBuilt.js';
import { Prng } from './models/Prng.js';
import { TINY_MODEL_PARAMS } from './models/tinyModel.js';

/** Parameters of a generated projector; they are also its cache key. */
export interface ProjectorParams {
  readonly seed: number;
  /** Width of the text model the projector feeds (`mm.2`'s output): must equal its `n_embd`. */
  readonly textEmbeddingLength: number;
  /** The vision tower's width, heads, FFN width and block count. */
  readonly visionEmbeddingLength: number;
  readonly headCount: number;
  readonly feedForwardLength: number;
  readonly blockCount: number;
  /** Width of the projector's hidden layer (`mm.0`'s output). */
  readonly projectorHiddenLength: number;
  /** Square input size in pixels (images are resized and padded to it) and patch side. */
  readonly imageSize: number;
  readonly patchSize: number;
}

/** A projector for the tiny model (64 wide): 28×28 images, 14-pixel patches, 4 image tokens. */
export const TINY_PROJECTOR_PARAMS: ProjectorParams = {
  seed: 0x1a9e,
  textEmbeddingLength: TINY_MODEL_PARAMS.embeddingLength,
  visionEmbeddingLength: 32,
  headCount: 2,
  feedForwardLength: 48,
  blockCount: 2,
  projectorHiddenLength: 64,
  imageSize: 28,
  patchSize: 14,
};

/** Writes a random-weight llava-style (`mlp`) CLIP projector GGUF, all tensors F32. */
export async function writeProjector(path: string, params: ProjectorParams): Promise<GgufWriteResult> {
  const p = params;
  const writer = new GgufWriter();
  writer
    .set('general.architecture', GgufValue.string('clip'))
    .set('general.type', GgufValue.string('mmproj'))
    .set('general.name', GgufValue.string('llama-actors tiny mmproj (random weights)'))
    .set('general.file_type', GgufValue.uint32(0))
    .set('clip.projector_type', GgufValue.string('mlp'))
    .set('clip.has_vision_encoder', GgufValue.bool(true))
    .set('clip.use_gelu', GgufValue.bool(true))
    .set('clip.vision.embedding_length', GgufValue.uint32(p.visionEmbeddingLength))
    .set('clip.vision.feed_forward_length', GgufValue.uint32(p.feedForwardLength))
    .set('clip.vision.block_count', GgufValue.uint32(p.blockCount))
    .set('clip.vision.projection_dim', GgufValue.uint32(p.textEmbeddingLength))
    .set('clip.vision.attention.head_count', GgufValue.uint32(p.headCount))
    .set('clip.vision.attention.layer_norm_epsilon', GgufValue.float32(1e-5))
    .set('clip.vision.image_size', GgufValue.uint32(p.imageSize))
    .set('clip.vision.patch_size', GgufValue.uint32(p.patchSize))
    .set('clip.vision.image_mean', GgufValue.float32s([0.5, 0.5, 0.5]))
    .set('clip.vision.image_std', GgufValue.float32s([0.5, 0.5, 0.5]));

  const d = p.visionEmbeddingLength;
  const patches = (p.imageSize / p.patchSize) ** 2;
  if (!Number.isInteger(patches)) throw new RangeError('imageSize must be a multiple of patchSize');
  // Shapes are in ggml order [ne0, ne1, ...]; a {n_in → n_out} matrix is [n_in, n_out].
  const add = (name: string, shape: readonly number[], kind: 'matrix' | 'ones' | 'zeros'): void => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (kind === 'ones') values.fill(1);
    if (kind === 'matrix') Prng.forStream(p.seed, name).fillSymmetric(values, 1 / Math.sqrt(shape[0]! * (shape.length > 2 ? shape[1]! * shape[2]! : 1)));
    writer.addTensor(name, GgmlType.F32, shape, values);
  };
  // The patch convolution's kernel is [kw, kh, channels in, channels out].
  add('v.patch_embd.weight', [p.patchSize, p.patchSize, 3, d], 'matrix');
  add('v.patch_embd.bias', [d], 'zeros');
  add('v.position_embd.weight', [d, patches], 'matrix');
  add('v.pre_ln.weight', [d], 'ones');
  add('v.pre_ln.bias', [d], 'zeros');
  for (let block = 0; block < p.blockCount; block++) {
    const b = `v.blk.${block}`;
    for (const proj of ['attn_q', 'attn_k', 'attn_v', 'attn_out']) {
      add(`${b}.${proj}.weight`, [d, d], 'matrix');
      add(`${b}.${proj}.bias`, [d], 'zeros');
    }
    add(`${b}.ln1.weight`, [d], 'ones');
    add(`${b}.ln1.bias`, [d], 'zeros');
    add(`${b}.ln2.weight`, [d], 'ones');
    add(`${b}.ln2.bias`, [d], 'zeros');
    // clip.cpp swaps up/down when ffn_down's ne0 equals n_embd (old exports): keep n_ff ≠ n_embd.
    add(`${b}.ffn_up.weight`, [d, p.feedForwardLength], 'matrix');
    add(`${b}.ffn_up.bias`, [p.feedForwardLength], 'zeros');
    add(`${b}.ffn_down.weight`, [p.feedForwardLength, d], 'matrix');
    add(`${b}.ffn_down.bias`, [d], 'zeros');
  }
  add('mm.0.weight', [d, p.projectorHiddenLength], 'matrix');
  add('mm.0.bias', [p.projectorHiddenLength], 'zeros');
  add('mm.2.weight', [p.projectorHiddenLength, p.textEmbeddingLength], 'matrix');
  add('mm.2.bias', [p.textEmbeddingLength], 'zeros');
  return writer.writeTo(path);
}

/** The tiny model's projector, `models/tiny-mmproj.gguf`, built on first use. Returns its path. */
export function ensureTinyProjector(): Promise<string> {
  return ensureBuilt(join(MODELS_DIR, 'tiny-mmproj.gguf'), GENERATOR_VERSION, TINY_PROJECTOR_PARAMS, (path) =>
    writeProjector(path, TINY_PROJECTOR_PARAMS),
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  await ensureTinyModel();
  console.log(await ensureTinyProjector());
}
