/**
 * Reading a --base chain for the encoder through btf/parse.ts's readBtfBytes (raw BTF, an ELF's
 * .BTF section, either gzip-compressed as the committed vmlinux fixture is). Errors become EncoderError('bad-base').
 * `BaseCache` keeps parsed chain prefixes by path list so a batch reads vmlinux once (the last
 * level of a multi-level chain, a module's own BTF, is not kept: only its job uses it).
 */
import type { Btf } from '../btf/btf.js';
import { BtfError } from '../btf/errors.js';
import { parseBtf, readBtfBytes } from '../btf/parse.js';
import { EncoderError } from './errors.js';

export function readBaseBytes(path: string): Uint8Array {
  try {
    return readBtfBytes(path);
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    throw new EncoderError('bad-base', e.message.replace(/^.*?: /, ''), { file: path });
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
