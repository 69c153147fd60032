/**
 * The daemon's one door to the BTF library: everything it needs from src/btf (parse to check an
 * extras file and count its variables, and the merged views) goes through `BtfOps`, so the core
 * and the publisher are tested with fakes and the library can change underneath.
 *
 * The merge operations (src/btf/merge.ts) are wired here; until they exist, `libraryBtfOps`
 * reports them unavailable and the publisher skips the merged views.
 */
import { KIND } from '../btf/kinds.js';
import { parseBtf } from '../btf/parse.js';
import type { Btf } from '../btf/btf.js';

export interface BtfOps {
  /** Parse `extras` split on `chain` (raw BTF, root first); VAR count. Throws on invalid BTF. */
  inspect(extras: Uint8Array, chain: readonly Uint8Array[]): { readonly vars: number };
  /** Whether the merge operations below are available. */
  readonly canMerge: boolean;
  /** merged/<module>: levels 1.. of `chain` (module, extras) joined into one level split on chain[0]. */
  flattenOnto(chain: readonly Uint8Array[]): Uint8Array;
  /** merged/vmlinux: the whole chain as one standalone BTF. */
  flattenStandalone(chain: readonly Uint8Array[]): Uint8Array;
  /** merged/kernel: `base` (vmlinux [+ extras]) and every sibling chain on it, one standalone deduplicated BTF. */
  mergeSiblings(base: readonly Uint8Array[], siblings: readonly (readonly Uint8Array[])[]): Uint8Array;
}

export class BtfOpsUnavailable extends Error {
  constructor(what: string) {
    super(`${what} is not available yet (src/btf/merge.ts missing)`);
    this.name = 'BtfOpsUnavailable';
  }
}

/** Parsed levels are memoised by the identity of their bytes (vmlinux is parsed once, not per module). */
const parsed = new WeakMap<Uint8Array, WeakMap<Btf | object, Btf>>();
const ROOT = {};

function parseChain(chain: readonly Uint8Array[]): Btf | undefined {
  let base: Btf | undefined;
  for (const bytes of chain) {
    let byBase = parsed.get(bytes);
    if (!byBase) { byBase = new WeakMap(); parsed.set(bytes, byBase); }
    let level = byBase.get(base ?? ROOT);
    if (!level) {
      level = parseBtf(bytes, { base });
      byBase.set(base ?? ROOT, level);
    }
    base = level;
  }
  return base;
}

export const libraryBtfOps: BtfOps = {
  inspect(extras, chain) {
    const level = parseBtf(extras, { base: parseChain(chain) });
    let vars = 0;
    for (const t of level.types) if (t.kind === KIND.VAR) vars++;
    return { vars };
  },
  canMerge: false,
  flattenOnto() { throw new BtfOpsUnavailable('flattenOnto'); },
  flattenStandalone() { throw new BtfOpsUnavailable('flattenStandalone'); },
  mergeSiblings() { throw new BtfOpsUnavailable('mergeSiblings'); },
};
