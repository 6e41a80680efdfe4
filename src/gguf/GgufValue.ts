/**
 * A typed GGUF metadata value. GGUF stores the exact type next to every value and llama.cpp
 * rejects a key whose type differs from the one it expects (a `uint32` where it wants a `float32`,
 * for instance), so values carry their GGUF type instead of being inferred from JavaScript types.
 *
 * @internal
 */
export type GgufValue =
  | { readonly type: 'uint32'; readonly value: number }
  | { readonly type: 'int32'; readonly value: number }
  | { readonly type: 'float32'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'string[]'; readonly value: readonly string[] }
  | { readonly type: 'float32[]'; readonly value: ArrayLike<number> }
  | { readonly type: 'int32[]'; readonly value: ArrayLike<number> };

const UINT32_MAX = 0xffff_ffff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function checkInteger(value: number, min: number, max: number, type: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${value} is not a valid GGUF ${type}`);
  }
  return value;
}

/** Constructors for {@link GgufValue}; integers are range-checked here, before anything is written. @internal */
export const GgufValue = {
  uint32: (value: number): GgufValue => ({ type: 'uint32', value: checkInteger(value, 0, UINT32_MAX, 'uint32') }),
  int32: (value: number): GgufValue => ({ type: 'int32', value: checkInteger(value, INT32_MIN, INT32_MAX, 'int32') }),
  float32: (value: number): GgufValue => ({ type: 'float32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  string: (value: string): GgufValue => ({ type: 'string', value }),
  strings: (value: readonly string[]): GgufValue => ({ type: 'string[]', value }),
  float32s: (value: ArrayLike<number>): GgufValue => ({ type: 'float32[]', value }),
  int32s: (value: ArrayLike<number>): GgufValue => {
    for (let i = 0; i < value.length; i++) checkInteger(value[i] ?? NaN, INT32_MIN, INT32_MAX, 'int32');
    return { type: 'int32[]', value };
  },
} as const;
