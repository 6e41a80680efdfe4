import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufValue } from '../../src/gguf/GgufValue.js';
import { GgufWriter } from '../../src/gguf/GgufWriter.js';

// node-llama-cpp's own GGUF parser is an independent reader to check the writer against.
describe('GgufWriter', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes metadata of every supported type and aligned F32 / F16 tensors', async () => {
    const path = join(dir, 'types.gguf');
    const f16Values = [0, 1, -2, 0.5, 65504, 1e-7, 0.1, -0.333];
    const { bytes } = await new GgufWriter()
      .set('test.uint32', GgufValue.uint32(4_000_000_000))
      .set('test.int32', GgufValue.int32(-7))
      .set('test.float32', GgufValue.float32(0.25))
      .set('test.bool', GgufValue.bool(true))
      .set('test.string', GgufValue.string('héllo ▁world'))
      .set('test.strings', GgufValue.strings(['a', '', '<0x0A>']))
      .set('test.float32s', GgufValue.float32s([1.5, -2]))
      .set('test.int32s', GgufValue.int32s([3, -3]))
      .addTensor('a.weight', GgmlType.F32, [3], new Float32Array([1, 2, 3]))
      .addTensor('b.weight', GgmlType.F16, [4, 2], new Float32Array(f16Values))
      .addTensor('c.weight', GgmlType.F32, [5, 7], (chunk, first) => chunk.forEach((_, i) => (chunk[i] = first + i)))
      .writeTo(path);

    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.version).toBe(3);
    const test = (info.metadata as unknown as { test: Record<string, unknown> }).test;
    expect(test).toEqual({
      uint32: 4_000_000_000,
      int32: -7,
      float32: 0.25,
      bool: true,
      string: 'héllo ▁world',
      strings: ['a', '', '<0x0A>'],
      float32s: [1.5, -2],
      int32s: [3, -3],
    });

    const tensors = info.tensorInfo ?? [];
    expect(tensors.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)])).toEqual([
      ['a.weight', [3], 0, 0],
      ['b.weight', [4, 2], 1, 32],
      ['c.weight', [5, 7], 0, 64],
    ]);
    const dataStart = Number(tensors[0]!.fileOffset);
    expect(dataStart % 32).toBe(0);
    expect(bytes).toBe(dataStart + 64 + 160); // 140 bytes of c.weight, padded like every tensor

    const file = await open(path, 'r');
    try {
      const raw = Buffer.alloc(bytes - dataStart);
      await file.read(raw, 0, raw.length, dataStart);
      expect([0, 1, 2].map((i) => raw.readFloatLE(i * 4))).toEqual([1, 2, 3]);
      const halves = f16Values.map((_, i) => raw.readUInt16LE(32 + i * 2));
      // 1e-7 becomes a subnormal half; the others are exact or rounded to nearest.
      expect(halves).toEqual([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0002, 0x2e66, 0xb554]);
      expect(raw.readFloatLE(64 + 34 * 4)).toBe(34);
    } finally {
      await file.close();
    }
  });

  it('leaves nothing behind when generation fails part-way', async () => {
    const path = join(dir, 'broken.gguf');
    const writer = new GgufWriter().addTensor('x.weight', GgmlType.F16, [1 << 20], (_, first) => {
      if (first > 0) throw new Error('generator died');
    });
    await expect(writer.writeTo(path)).rejects.toThrow('generator died');
    expect((await readdir(dir)).filter((name) => name.startsWith('broken'))).toEqual([]);
  });

  it('rejects what llama.cpp would reject', () => {
    const writer = new GgufWriter().set('k', GgufValue.bool(false));
    expect(() => writer.set('k', GgufValue.bool(true))).toThrow(/duplicate/);
    expect(() => writer.addTensor('t', GgmlType.F32, [2, 2], new Float32Array(3))).toThrow(/values/);
    expect(() => GgufValue.uint32(-1)).toThrow(RangeError);
  });
});
