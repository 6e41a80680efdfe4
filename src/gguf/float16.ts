/**
 * Converts float32 values to IEEE 754 binary16 bit patterns with round-to-nearest-even, the
 * rounding ggml itself uses, so an F16 tensor written here equals what llama.cpp's own converter
 * would produce from the same float32 values. (Node 20 has no `Float16Array`.)
 *
 * `source` and `target` must have the same length.
 *
 * @internal
 */
export function float32ToFloat16(source: Float32Array, target: Uint16Array): void {
  if (source.length !== target.length) {
    throw new RangeError(`length mismatch: ${source.length} values into ${target.length} slots`);
  }
  // Reading the raw bits avoids a DataView call per element, which dominates big tensors.
  const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
  for (let i = 0; i < bits.length; i++) {
    target[i] = bitsToHalf(bits[i]!);
  }
}

function bitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7f_ffff;

  if (exponent === 0xff) {
    // Keep NaN a NaN: a quiet-NaN payload bit survives even when the low mantissa bits are lost.
    return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;

  if (halfExponent <= 0) {
    // Subnormal half: shift the full significand (with its implicit 1) into the 10-bit field.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x80_0000;
    const shift = 14 - halfExponent;
    return sign | roundShift(significand, shift);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity), so no special case.
  return sign | ((halfExponent << 10) + roundShift(mantissa, 13));
}

function roundShift(value: number, shift: number): number {
  const truncated = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return remainder > halfway || (remainder === halfway && (truncated & 1) === 1) ? truncated + 1 : truncated;
}

let halfTable: Float32Array | undefined;

/**
 * Converts IEEE 754 binary16 bit patterns to float32 values (exact: every half is a float).
 * `source` and `target` must have the same length.
 *
 * @internal
 */
export function float16ToFloat32(source: Uint16Array, target: Float32Array): void {
  if (source.length !== target.length) {
    throw new RangeError(`length mismatch: ${source.length} values into ${target.length} slots`);
  }
  // 65536 entries (256 KiB) decoded once beat decoding every element of multi-million-element tensors.
  const table = (halfTable ??= buildHalfTable());
  for (let i = 0; i < source.length; i++) target[i] = table[source[i]!]!;
}

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[bits] = mantissa === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}
