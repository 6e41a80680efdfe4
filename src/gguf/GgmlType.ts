/**
 * The ggml tensor element types this project writes. The numbers are ggml's `enum ggml_type`
 * values, which is what a GGUF tensor info stores.
 *
 * @internal
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
} as const;

/** One of {@link GgmlType}'s values. @internal */
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Bytes one element of `type` takes on disk (both supported types are unquantized). @internal */
export function ggmlTypeSize(type: GgmlType): number {
  return type === GgmlType.F32 ? 4 : 2;
}
