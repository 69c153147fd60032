/**
 * One BTF level's own string section. Offsets are absolute in the chain: this level's strings
 * start at `start` (0 standalone, the sum of the ancestors' string lengths for split BTF), so a
 * level can answer for [start, end) and hand anything lower to its base.
 *
 * Parsed tables wrap the file's bytes without copying; the first `add` copies them into a
 * growable buffer. Reads of ASCII tables (every real kernel table) slice one decoded JS string,
 * which is much cheaper than a TextDecoder call per name in dumps of 100k types.
 */
import { BtfError } from './errors.js';
import { KSYM_NAME_LEN } from './kinds.js';
import type { StrOff } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Enc = new TextEncoder();

/** nameClass bits. */
export const NAME_EMPTY = 1;
export const NAME_IDENT = 2;
export const NAME_DOTTED = 4;
/** The offset is inside a string, not at its start (the classes above then describe the suffix). */
export const NAME_NOT_START = 8;
const NAME_COMPUTED = 0x80;
/** Lookups answered by searching the text before a table builds its index (see scan). */
const UNINDEXED_LOOKUPS = 64;

export class StringTable {
  /** Absolute offset of this table's first byte. */
  readonly start: number;
  private buf: Uint8Array;
  private len: number;
  /** Whole table decoded (only when every byte is ASCII, so char index = byte index). */
  private text: string | undefined;
  private asciiChecked = false;
  private index: Map<string, StrOff> | undefined;
  private unindexedLookups = 0;
  private classes: Uint8Array | undefined;
  /** No string occurs twice (see `unique`). */
  private uniqueStrings: boolean;

  /** `initial` is used as is (not copied) until the first `add`. */
  constructor(start: number, initial: Uint8Array = new Uint8Array(0)) {
    this.start = start;
    this.buf = initial;
    this.len = initial.length;
    this.uniqueStrings = initial.length === 0 || (initial.length === 1 && initial[0] === 0);
  }

  /**
   * True when no string occurs twice: a table that started empty and grew only through `add` and
   * `appendNew`. A table made from bytes (parsed, merged) may repeat strings, so it says false.
   */
  get unique(): boolean { return this.uniqueStrings; }

  /**
   * Appends the string whose UTF-8 bytes (no NUL) are `bytes`, which the caller knows this table
   * lacks: no decoding, no lookup (the index is rebuilt on the next find/add). For copying the
   * strings of a `unique` table in a new order.
   */
  appendNew(bytes: Uint8Array): StrOff {
    this.reserve(bytes.length + 1);
    const off = this.start + this.len;
    this.buf.set(bytes, this.len);
    this.buf[this.len + bytes.length] = 0;
    this.len += bytes.length + 1;
    this.index = undefined;
    this.text = undefined;
    this.asciiChecked = false;
    return off;
  }

  /** A fresh table: standalone tables begin with the empty string at offset 0, split ones empty. */
  static empty(start: number): StringTable {
    return new StringTable(start, start === 0 ? new Uint8Array([0]) : new Uint8Array(0));
  }

  /** Own length in bytes. */
  get length(): number { return this.len; }
  /** First absolute offset past this table. */
  get end(): number { return this.start + this.len; }
  /** True when `off` falls in this table. */
  has(off: StrOff): boolean { return off >= this.start && off < this.start + this.len; }

  /**
   * The backing buffer itself (no view is made; only [0, length) is the table): for hot loops
   * that copy names byte by byte. Do not keep it across `add`.
   */
  backing(): Uint8Array { return this.buf; }

  /** The section bytes (a view; do not keep it across `add`). */
  bytes(): Uint8Array { return this.buf.subarray(0, this.len); }

  /** String at absolute `off` (which must be in this table); 'bad-string-offset' otherwise. */
  get(off: StrOff): string {
    const rel = off - this.start;
    if (rel < 0 || rel >= this.len) {
      throw new BtfError('bad-string-offset', `string offset ${off} outside [${this.start}, ${this.end})`, { section: 'BTF strings', offset: off });
    }
    const text = this.decoded();
    if (text !== undefined) {
      const end = text.indexOf('\0', rel);
      return text.slice(rel, end < 0 ? this.len : end);
    }
    const end = this.buf.indexOf(0, rel);
    return utf8.decode(this.buf.subarray(rel, end < 0 || end > this.len ? this.len : end));
  }

  /** True when `off` is the first byte of a string (offset 0 of a table, or just after a NUL). */
  isStart(off: StrOff): boolean {
    const rel = off - this.start;
    if (rel < 0 || rel >= this.len) return false;
    return rel === 0 || this.buf[rel - 1] === 0;
  }

  /**
   * Classifies the string at absolute `off` straight from the bytes (no JS string made), cached
   * per offset: NAME_EMPTY, NAME_IDENT (kernel identifier), NAME_DOTTED (identifier that may
   * contain dots), NAME_NOT_START (off is inside a string). Identifiers are shorter than
   * KSYM_NAME_LEN as the kernel requires. 0 for a valid non-identifier (or off outside the table).
   */
  nameClass(off: StrOff): number {
    const rel = off - this.start;
    if (rel < 0 || rel >= this.len) return 0;
    if (this.classes === undefined || this.classes.length !== this.len) this.classes = new Uint8Array(this.len);
    const cached = this.classes[rel]!;
    if (cached !== 0) return cached & ~NAME_COMPUTED;
    const b = this.buf;
    let ident = true;
    let dotted = true;
    let i = rel;
    for (; i < this.len; i++) {
      const c = b[i]!;
      if (c === 0) break;
      const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
      const digit = c >= 0x30 && c <= 0x39 && i > rel;
      if (!alpha && !digit) { ident = false; if (c !== 0x2e) dotted = false; }
      if (i - rel >= KSYM_NAME_LEN - 1) { ident = false; dotted = false; }
    }
    let cls = 0;
    if (i === rel) cls = NAME_EMPTY;
    else cls = (ident ? NAME_IDENT | NAME_DOTTED : 0) | (dotted ? NAME_DOTTED : 0);
    if (rel !== 0 && b[rel - 1] !== 0) cls |= NAME_NOT_START;
    this.classes[rel] = cls | NAME_COMPUTED;
    return cls;
  }

  /** Offset of the first occurrence of `s` as a whole string in this table. */
  find(s: string): StrOff | undefined {
    return this.scan(s) ?? this.getIndex().get(s);
  }

  /**
   * A few lookups in a big table (renaming vmlinux's DATASECs) are cheaper as a search of its text
   * than as an index of its 100k strings; past UNINDEXED_LOOKUPS the index is built. Undefined when
   * the search does not apply (non-ASCII, or the index should answer); null when `s` is absent.
   */
  private scan(s: string): StrOff | null | undefined {
    if (this.index !== undefined || this.unindexedLookups >= UNINDEXED_LOOKUPS || !/^[\x01-\x7f]*$/.test(s)) return undefined;
    const text = this.decoded();
    if (text === undefined) return undefined;
    this.unindexedLookups++;
    // A whole string starts at the table's start or after a NUL, and ends at a NUL.
    if (text.startsWith(`${s}\0`)) return this.start;
    const at = text.indexOf(`\0${s}\0`);
    return at < 0 ? null : this.start + at + 1;
  }

  /** Offset of `s`, appending it when this table lacks it. (Ancestor reuse is Btf.addStr's job.) */
  add(s: string): StrOff {
    const scanned = this.scan(s);
    if (scanned !== undefined && scanned !== null) return scanned;
    const idx = scanned === null ? undefined : this.getIndex();
    const found = idx?.get(s);
    if (found !== undefined) return found;
    const enc = utf8Enc.encode(s);
    if (enc.includes(0)) throw new BtfError('builder-misuse', `string contains NUL: ${JSON.stringify(s)}`);
    this.reserve(enc.length + 1);
    const off = this.start + this.len;
    this.buf.set(enc, this.len);
    this.buf[this.len + enc.length] = 0;
    this.len += enc.length + 1;
    if (this.text !== undefined) {
      if (enc.length === s.length) this.text += `${s}\0`;
      else { this.text = undefined; this.asciiChecked = true; }
    }
    idx?.set(s, off);
    return off;
  }

  private reserve(extra: number): void {
    const need = this.len + extra;
    // Copy once out of the (possibly shared, file-backed) initial view, then grow by doubling.
    if (need > this.buf.length || this.buf.buffer.byteLength !== this.buf.length) {
      const grown = new Uint8Array(Math.max(need, this.len * 2, 64));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
  }

  private decoded(): string | undefined {
    if (!this.asciiChecked) {
      this.asciiChecked = true;
      const b = this.buf;
      let ascii = true;
      for (let i = 0; i < this.len; i++) if (b[i]! >= 0x80) { ascii = false; break; }
      if (ascii) this.text = Buffer.from(b.buffer, b.byteOffset, this.len).toString('latin1');
    }
    return this.text;
  }

  private getIndex(): Map<string, StrOff> {
    if (this.index === undefined) {
      const idx = new Map<string, StrOff>();
      const b = this.buf;
      let rel = 0;
      while (rel < this.len) {
        let end = b.indexOf(0, rel);
        if (end < 0 || end > this.len) end = this.len;
        const s = this.get(this.start + rel);
        if (!idx.has(s)) idx.set(s, this.start + rel);
        rel = end + 1;
      }
      this.index = idx;
    }
    return this.index;
  }
}
