/**
 * Reading a --base chain for the encoder: raw BTF or an ELF's .BTF section (btf/parse.ts), also
 * gzip-compressed (the committed vmlinux fixture is). Errors become EncoderError('bad-base').
 * `BaseCache` keeps parsed chain prefixes by path list so a batch reads vmlinux once (the last
 * level of a multi-level chain, a module's own BTF, is not kept: only its job uses it).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../btf/btf.js';
import { elfSection, isElf } from '../btf/elf-section.js';
import { parseBtf } from '../btf/parse.js';
import { EncoderError } from './errors.js';

export function readBaseBytes(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new EncoderError('bad-base', `cannot read: ${e instanceof Error ? e.message : String(e)}`, { file: path });
  }
  try {
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    return isElf(bytes) ? elfSection(bytes, path) : bytes;
  } catch (e) {
    if (e instanceof EncoderError) throw e;
    throw new EncoderError('bad-base', e instanceof Error ? e.message.replace(/^.*?: /, '') : String(e), { file: path });
  }
}

export class BaseCache {
  private readonly chains = new Map<string, Btf>();

  /** The chain `paths` (root first), each level parsed once per cache. */
  chain(paths: readonly string[]): Btf | undefined {
    let btf: Btf | undefined;
    for (let i = 0; i < paths.length; i++) {
      const key = JSON.stringify(paths.slice(0, i + 1));
      const known = this.chains.get(key);
      if (known) { btf = known; continue; }
      const p = paths[i]!;
      try {
        btf = parseBtf(readBaseBytes(p), { base: btf, source: p });
      } catch (e) {
        if (e instanceof EncoderError) throw e;
        throw new EncoderError('bad-base', e instanceof Error ? e.message : String(e), { file: p });
      }
      // Keep the shared prefixes (vmlinux); a module's own level is needed by one job only.
      if (i < paths.length - 1 || paths.length === 1) this.chains.set(key, btf);
    }
    return btf;
  }
}

export function readBaseChain(paths: readonly string[]): Btf | undefined {
  return new BaseCache().chain(paths);
}
