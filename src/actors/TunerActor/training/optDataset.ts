import * as koffi from 'koffi';
import { GgmlTypeId, type LlamaNative } from './llamaNative.js';
import type { TokenWindows } from './tokenWindows.js';

/**
 * Lays token windows out as a `ggml_opt_dataset`: one datapoint per window, its `contextSize`
 * tokens as the data and the next token of each as the label, in window order. The free is pushed
 * onto `disposers`.
 */
export function createOptDataset(native: LlamaNative, windows: TokenWindows, disposers: Array<() => void>): bigint {
  const { fn } = native;
  const count = windows.starts.length;
  const dataset = fn.ggml_opt_dataset_init(GgmlTypeId.I32, GgmlTypeId.I32, windows.contextSize, windows.contextSize, count, 1);
  if (dataset === null) throw new Error('ggml_opt_dataset_init returned NULL');
  disposers.push(() => fn.ggml_opt_dataset_free(dataset));
  fillOptDataset(native, dataset, windows, windows.starts.map((_, index) => index));
  return dataset;
}

/**
 * Shuffles `order` in place (Fisher-Yates, drawing from `random`, which the job's seed seeds) and
 * rewrites the dataset's windows in that order.
 */
export function reshuffleOptDataset(
  native: LlamaNative,
  dataset: bigint,
  windows: TokenWindows,
  order: number[],
  random: () => number,
): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  fillOptDataset(native, dataset, windows, order);
}

/** Writes the windows, in `order`, into the dataset's data (inputs) and labels (next tokens). */
function fillOptDataset(native: LlamaNative, dataset: bigint, windows: TokenWindows, order: readonly number[]): void {
  const { fn } = native;
  const size = windows.contextSize;
  const data = tensorInt32(native, fn.ggml_opt_dataset_data(dataset), order.length * size);
  const labels = tensorInt32(native, fn.ggml_opt_dataset_labels(dataset), order.length * size);
  order.forEach((window, slot) => {
    const start = windows.starts[window]!;
    data.set(windows.stream.subarray(start, start + size), slot * size);
    labels.set(windows.stream.subarray(start + 1, start + size + 1), slot * size);
  });
}

function tensorInt32(native: LlamaNative, tensor: bigint | null, length: number): Int32Array {
  if (tensor === null) throw new Error('dataset tensor is NULL');
  const pointer = native.fn.ggml_get_data(tensor);
  if (pointer === null) throw new Error('dataset tensor has no data');
  return new Int32Array(koffi.view(pointer, length * 4));
}
