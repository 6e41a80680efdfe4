import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** GGUF `gguf_type` → fixed size in bytes; strings (8) and arrays (9) are variable. */
const FIXED_SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
const UINT32 = 4;
const INT32 = 5;
const CHUNK = 1 << 20;

/**
 * Overwrites an integer metadata value of a GGUF file in place (4 bytes; the file's layout does not
 * change). Used to put the base model's context length back after `llama_opt_init` changed it.
 * Synchronous: it runs in the trainer process, right after the save.
 *
 * @returns the previous value, or `undefined` when the key is absent (nothing is written then).
 * @throws when the file is not GGUF v2/v3 or the key's type is not `uint32` / `int32`.
 */
export function setGgufUint32(path: string, key: string, value: number): number | undefined {
  const fd = openSync(path, 'r+');
  try {
    const reader = new HeaderReader(fd);
    if (reader.uint32() !== 0x4655_4747) throw new Error(`${path} is not a GGUF file`);
    const version = reader.uint32();
    if (version < 2) throw new Error(`${path} is GGUF v${version}; only v2 and v3 are supported`);
    reader.uint64(); // tensor count
    const kvCount = reader.uint64();
    for (let i = 0; i < kvCount; i++) {
      const name = reader.string();
      const type = reader.uint32();
      if (name === key) {
        if (type !== UINT32 && type !== INT32) throw new Error(`GGUF key ${key} has type ${type}, not uint32`);
        const position = reader.position;
        const previous = type === UINT32 ? reader.uint32() : reader.int32();
        const bytes = Buffer.alloc(4);
        if (type === UINT32) bytes.writeUInt32LE(value);
        else bytes.writeInt32LE(value);
        writeSync(fd, bytes, 0, 4, position);
        return previous;
      }
      reader.skipValue(type);
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Sequential little-endian reads over a file, a chunk at a time (headers with big vocabularies run to megabytes). */
class HeaderReader {
  readonly #fd: number;
  #buffer = Buffer.alloc(0);
  #bufferStart = 0;
  position = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  uint32(): number {
    return this.#take(4).readUInt32LE(0);
  }

  int32(): number {
    return this.#take(4).readInt32LE(0);
  }

  uint64(): number {
    return Number(this.#take(8).readBigUInt64LE(0));
  }

  string(): string {
    const length = this.uint64();
    return this.#take(length).toString('utf8');
  }

  skipValue(type: number): void {
    if (type === STRING) {
      const length = this.uint64(); // read before `position +=`, which would use the old position
      this.position += length;
      return;
    }
    if (type === ARRAY) {
      const itemType = this.uint32();
      const count = this.uint64();
      const fixed = FIXED_SIZES[itemType];
      if (fixed !== undefined) {
        this.position += fixed * count;
      } else {
        for (let i = 0; i < count; i++) this.skipValue(itemType);
      }
      return;
    }
    const fixed = FIXED_SIZES[type];
    if (fixed === undefined) throw new Error(`unknown GGUF value type ${type}`);
    this.position += fixed;
  }

  #take(bytes: number): Buffer {
    const offset = this.position - this.#bufferStart;
    if (offset < 0 || offset + bytes > this.#buffer.length) {
      const buffer = Buffer.alloc(Math.max(CHUNK, bytes));
      const read = readSync(this.#fd, buffer, 0, buffer.length, this.position);
      if (read < bytes) throw new Error(`unexpected end of GGUF header at byte ${this.position}`);
      this.#buffer = buffer.subarray(0, read);
      this.#bufferStart = this.position;
    }
    const start = this.position - this.#bufferStart;
    this.position += bytes;
    return this.#buffer.subarray(start, start + bytes);
  }
}
