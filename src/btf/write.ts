/**
 * Serialises one BTF level: the 24-byte header, then the types, then the level's own strings
 * (split bytes when the level has a base). Deterministic: the bytes depend only on the level's
 * records and string table, so parse + write reproduces a well-formed file exactly.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_HEADER_LEN, BTF_MAGIC, BTF_VERSION, encodeType, encodedSize } from './kinds.js';

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The level's type section as little-endian words: the parsed words when untouched, else encoded. */
export function typeWords(btf: Btf): Uint32Array {
  const raw = btf.rawTypes;
  if (raw !== undefined) return raw.words;
  let typeLen = 0;
  for (const t of btf.types) typeLen += encodedSize(t);
  const words = new Uint32Array(typeLen >>> 2);
  let p = 0;
  for (const t of btf.types) p = encodeType(t, words, p);
  return words;
}

export function writeBtf(btf: Btf): Uint8Array {
  return writeLevels([btf]);
}

/**
 * The whole chain of `top` as one standalone file, written level after level: ids and string
 * offsets are cumulative along a chain, so the sections concatenate as they are (the same bytes as
 * writeBtf(flattenStandalone(top)), without copying a record; a parsed level's words go out as read).
 */
export function writeFlat(top: Btf): Uint8Array {
  return writeLevels(top.chain());
}

function writeLevels(levels: readonly Btf[]): Uint8Array {
  const words = levels.map(typeWords);
  const strs = levels.map((l) => l.strings.bytes());
  let typeLen = 0;
  for (const w of words) typeLen += w.length * 4;
  let strLen = 0;
  for (const b of strs) strLen += b.length;
  const total = BTF_HEADER_LEN + typeLen + strLen;
  const source = levels[levels.length - 1]?.source;
  if (total > 0xffffffff) throw new BtfError('too-large', `BTF of ${total} bytes exceeds the 4 GiB format limit`, { file: source });
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, true);
  out[2] = BTF_VERSION;
  out[3] = 0;
  dv.setUint32(4, BTF_HEADER_LEN, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strLen, true);
  let at = BTF_HEADER_LEN;
  for (const w of words) {
    if (littleEndianHost) {
      out.set(new Uint8Array(w.buffer, w.byteOffset, w.length * 4), at);
    } else {
      for (let i = 0; i < w.length; i++) dv.setUint32(at + i * 4, w[i]!, true);
    }
    at += w.length * 4;
  }
  for (const b of strs) { out.set(b, at); at += b.length; }
  return out;
}
