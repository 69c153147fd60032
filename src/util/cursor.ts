/**
 * Bounds-checked little-endian byte cursor, in the manner of gimli's EndianSlice:
 * reads advance `pos`, views are handed out as `subarray` (never copies), and every
 * overrun becomes a caller-supplied error instead of a RangeError or silent garbage.
 */
export type OverrunHandler = (what: string, offset: number, needed: number, available: number) => Error;

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class ByteCursor {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Offset of `bytes[0]` in the enclosing section/file, for error messages. */
  readonly base: number;
  pos = 0;
  private readonly overrun: OverrunHandler;

  constructor(bytes: Uint8Array, overrun: OverrunHandler, base = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.overrun = overrun;
    this.base = base;
  }

  get length(): number { return this.bytes.length; }
  get remaining(): number { return this.bytes.length - this.pos; }
  get atEnd(): boolean { return this.pos >= this.bytes.length; }
  /** Absolute offset (base + pos) for error messages. */
  get offset(): number { return this.base + this.pos; }

  /** A new cursor over [start, start+len) of this one, sharing the bytes. */
  sub(start: number, len: number, what = 'sub-range'): ByteCursor {
    if (start < 0 || len < 0 || start + len > this.bytes.length) {
      throw this.overrun(what, this.base + start, len, Math.max(0, this.bytes.length - start));
    }
    return new ByteCursor(this.bytes.subarray(start, start + len), this.overrun, this.base + start);
  }

  seek(pos: number, what = 'seek'): this {
    if (pos < 0 || pos > this.bytes.length) throw this.overrun(what, this.base + pos, 0, this.bytes.length);
    this.pos = pos;
    return this;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.bytes.length) throw this.overrun(what, this.offset, n, this.remaining);
  }

  skip(n: number, what = 'skip'): void { this.need(n, what); this.pos += n; }

  u8(what = 'u8'): number { this.need(1, what); return this.view.getUint8(this.pos++); }
  i8(what = 'i8'): number { this.need(1, what); return this.view.getInt8(this.pos++); }
  u16(what = 'u16'): number { this.need(2, what); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(what = 'i16'): number { this.need(2, what); const v = this.view.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(what = 'u32'): number { this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(what = 'i32'): number { this.need(4, what); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  u64(what = 'u64'): bigint { this.need(8, what); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v; }
  i64(what = 'i64'): bigint { this.need(8, what); const v = this.view.getBigInt64(this.pos, true); this.pos += 8; return v; }

  /** u64 as a number when it fits in 2^53 (sizes, offsets); overrun error otherwise. */
  u64n(what = 'u64'): number {
    const at = this.offset;
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.overrun(`${what} (value too large)`, at, 8, this.remaining);
    return Number(v);
  }

  /** Unsigned LEB128 as number when < 2^53, bigint-safe variant below. */
  uleb(what = 'ULEB128'): number {
    let result = 0;
    let mul = 1;
    const start = this.offset;
    for (;;) {
      const b = this.u8(what);
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 63) throw this.overrun(`${what} (too long)`, start, 10, this.remaining);
    }
    if (!Number.isSafeInteger(result)) throw this.overrun(`${what} (value too large)`, start, 0, this.remaining);
    return result;
  }

  ulebBig(what = 'ULEB128'): bigint {
    let result = 0n;
    let shift = 0n;
    const start = this.offset;
    for (;;) {
      const b = this.u8(what);
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
      if (shift > 70n) throw this.overrun(`${what} (too long)`, start, 10, this.remaining);
    }
    return result;
  }

  slebBig(what = 'SLEB128'): bigint {
    let result = 0n;
    let shift = 0n;
    let b: number;
    const start = this.offset;
    do {
      b = this.u8(what);
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (shift > 70n && (b & 0x80) !== 0) throw this.overrun(`${what} (too long)`, start, 10, this.remaining);
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  }

  sleb(what = 'SLEB128'): number {
    const at = this.offset;
    const v = this.slebBig(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.overrun(`${what} (value too large)`, at, 0, this.remaining);
    }
    return Number(v);
  }

  /** `n` bytes as a view (no copy). */
  bytesView(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** NUL-terminated string at the cursor; the terminator is consumed. */
  cstr(what = 'string'): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) throw this.overrun(`${what} (no NUL terminator)`, this.offset, 1, this.remaining);
    const s = utf8.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

/** NUL-terminated string at `off` in a string table, or undefined if `off` is out of range or unterminated. */
export function cstrAt(table: Uint8Array, off: number): string | undefined {
  if (off < 0 || off >= table.length) return undefined;
  const end = table.indexOf(0, off);
  if (end < 0) return undefined;
  return utf8.decode(table.subarray(off, end));
}
