/**
 * The daemon's one door to the BTF library: everything it needs from src/btf (parse to check an
 * extras file and count its variables, and the merged views) goes through `BtfOps`, so the core
 * and the publisher are tested with fakes and the library can change underneath.
 *
 * `canMerge` lets a build without merge support publish the chain alone (the publisher then
 * skips the merged views).
 */
import { KIND } from '../btf/kinds.js';
import { parseBtf } from '../btf/parse.js';
import type { Btf } from '../btf/btf.js';
import { exposeAnonEnums, flattenOnto, flattenStandalone, joinParts, mergePart, mergeSiblings } from '../btf/merge.js';
import { writeBtf, writeFlat } from '../btf/write.js';
import { checkEncoded } from '../encoder/output.js';
import type { LookupHit } from './api.js';
import { sha256Hex } from './cache.js';
import { lookupVariable } from './lookup.js';

export interface BtfOps {
  /**
   * Parse `extras` split on `chain` (raw BTF, root first) and run the full validator on it, as
   * the encoder does before it writes (nothing reaches the kernel unvalidated: a cache hit
   * included); VAR count. Throws on invalid BTF, naming the first problem.
   */
  inspect(extras: Uint8Array, chain: readonly Uint8Array[]): { readonly vars: number };
  /** Whether the merge operations below are available. */
  readonly canMerge: boolean;
  /*
   * The merged views are for tools: each keeps a top-level copy of every anonymous enum that only
   * VARs use (merge.ts exposeAnonEnums), so bpftool's C dump still prints its enumerators.
   */
  /** merged/<module>: levels 1.. of `chain` (module, extras) joined into one level split on chain[0]. */
  flattenOnto(chain: readonly Uint8Array[]): Uint8Array;
  /** merged/vmlinux: the whole chain as one standalone BTF. */
  flattenStandalone(chain: readonly Uint8Array[]): Uint8Array;
  /*
   * merged/kernel, built in parts so one changed module does not redo every module. `base` is
   * vmlinux [+ its extras]: the kernel base, one standalone level (vmlinux's DATASECs named
   * `vmlinux.<section>`). Both may run elsewhere (a worker process that keeps the parsed base).
   */
  /**
   * One module's part: `chain` (the module's BTF [+ extras], split on base[0]) flattened and
   * deduplicated onto the kernel base, its DATASECs named `<name>.<section>`. Depends only on its
   * inputs: computed once per module and base.
   */
  kernelPart(base: readonly Uint8Array[], chain: readonly Uint8Array[], name: string): Uint8Array | Promise<Uint8Array>;
  /**
   * merged/kernel: the kernel base standalone, then every part's types in the given order (parts
   * joined, not deduplicated again). The same inputs give the same bytes.
   */
  joinKernel(base: readonly Uint8Array[], parts: readonly Uint8Array[]): Uint8Array | Promise<Uint8Array>;
}

/** A published object's chain, for lookups: vmlinux first, then the object's BTF, then its extras. */
export interface PublishedChain {
  readonly name: string;
  readonly objectBtf: Uint8Array;
  readonly vmlinux: Uint8Array;
  readonly extras: Uint8Array | undefined;
}

export interface VariableFinder {
  find(variable: string, chains: readonly PublishedChain[]): Promise<LookupHit[]> | LookupHit[];
}


/**
 * The root level (vmlinux, MBs) is parsed once per bytes object and kept; the levels above it
 * (a module's BTF, extras: KBs) are parsed on each call and not retained, so memory does not grow
 * with the number of loaded modules.
 */
const parsedRoots = new WeakMap<Uint8Array, Btf>();

/**
 * Module levels (KBs each) parsed on the root, by content: the validator keeps its resolved view
 * of a chain per parsed base, so a module validated again (a reload served from the cache) does
 * not resolve the whole vmlinux level anew. Bounded: the oldest are dropped.
 */
const parsedLevels = new Map<string, Btf>();
const PARSED_LEVELS_MAX = 8;
/**
 * A parsed level is only valid on the very root object it was parsed on (merges check ancestry by
 * identity), so the key names that object, not just the root's content.
 */
const rootIds = new WeakMap<Btf, number>();
let nextRootId = 0;
function rootId(root: Btf): number {
  let id = rootIds.get(root);
  if (id === undefined) { id = nextRootId++; rootIds.set(root, id); }
  return id;
}

function parseChain(chain: readonly Uint8Array[]): Btf | undefined {
  let base: Btf | undefined;
  chain.forEach((bytes, i) => {
    if (i === 0) {
      let root = parsedRoots.get(bytes);
      if (!root) { root = parseBtf(bytes); parsedRoots.set(bytes, root); }
      base = root;
    } else if (i === 1 && chain.length === 2) {
      const key = `${rootId(base!)}:${sha256Hex(bytes)}`;
      let level = parsedLevels.get(key);
      if (!level) {
        level = parseBtf(bytes, { base });
        if (parsedLevels.size >= PARSED_LEVELS_MAX) parsedLevels.delete(parsedLevels.keys().next().value ?? '');
      } else parsedLevels.delete(key);
      parsedLevels.set(key, level);
      base = level;
    } else {
      base = parseBtf(bytes, { base });
    }
  });
  return base;
}

function top(chain: readonly Uint8Array[]): Btf {
  const t = parseChain(chain);
  if (!t) throw new Error('empty BTF chain');
  return t;
}

export const libraryBtfOps: BtfOps = {
  inspect(extras, chain) {
    const level = parseBtf(extras, { base: parseChain(chain) });
    checkEncoded(level, 'extras');
    let vars = 0;
    for (const t of level.types) if (t.kind === KIND.VAR) vars++;
    return { vars };
  },
  canMerge: true,
  flattenOnto(chain) {
    const root = top(chain.slice(0, 1));
    const flat = flattenOnto(top(chain), root);
    // vmlinux (parsed once and kept) is scanned once: each module costs only its own level.
    exposeAnonEnums(flat, root);
    return writeBtf(flat);
  },
  flattenStandalone(chain) {
    return writeBtf(withVisibleEnums(flattenStandalone(top(chain))));
  },
  kernelPart(base, chain, name) {
    const k = kernelBase(base);
    // Without vmlinux extras the kernel base adds no type a module chain could share with it.
    const part = mergePart(k.root, top([base[0]!, ...chain]), k.btf, name, { dedup: base.length > 1 });
    // The kernel base is scanned once (its own enums were exposed when it was made).
    exposeAnonEnums(part, k.btf);
    return writeBtf(part);
  },
  joinKernel(base, parts) {
    const k = kernelBase(base).written;
    return writeFlat(joinParts(k, parts.map((p) => parseBtf(p, { base: k }))));
  },
};

/**
 * The kernel base of merged/kernel, for the last base chain asked (by identity: a long-lived
 * worker or a test asks with the same bytes objects over and over): vmlinux and its extras
 * (deduplicated against it) as one standalone level, DATASECs named `vmlinux.<section>`, anonymous
 * enums exposed. `btf` is what parts are deduplicated against; `written`, the same parsed back,
 * starts every join (its records are never built: a join writes its words as they are).
 */
interface KernelBase { readonly chain: readonly Uint8Array[]; readonly root: Btf; readonly btf: Btf; readonly written: Btf }
let lastKernelBase: KernelBase | undefined;
function kernelBase(base: readonly Uint8Array[]): KernelBase {
  const [vmlinux, ...extras] = base;
  if (!vmlinux) throw new Error('empty base chain');
  const last = lastKernelBase;
  if (last && last.chain.length === base.length && last.chain.every((b, i) => b === base[i])) return last;
  const root = top([vmlinux]);
  // vmlinux's own extras are split on vmlinux exactly like a module: one sibling, named vmlinux too.
  const btf = withVisibleEnums(mergeSiblings(root, extras.length > 0 ? [top(base)] : [], { objects: { base: 'vmlinux', siblings: extras.length > 0 ? ['vmlinux'] : [] } }));
  lastKernelBase = { chain: [...base], root, btf, written: parseBtf(writeBtf(btf), { source: 'kernel base' }) };
  return lastKernelBase;
}

function withVisibleEnums(btf: Btf): Btf {
  exposeAnonEnums(btf);
  return btf;
}

/** `btf-extra lookup` over the published chains, through the lookup module's search. */
export const libraryVariableFinder: VariableFinder = {
  find(variable, chains) {
    const hits: LookupHit[] = [];
    for (const c of chains) {
      const chain = c.name === 'vmlinux' ? [c.vmlinux] : [c.vmlinux, c.objectBtf];
      if (c.extras) chain.push(c.extras);
      const t = top(chain);
      const vmEnd = top([c.vmlinux]).nextId;
      const found = lookupVariable(t, variable, (id) => (id < vmEnd ? 'vmlinux' : c.name));
      // vmlinux's own variables are reported once, from the vmlinux chain.
      hits.push(...(c.name === 'vmlinux' ? found : found.filter((h) => h.btfId >= vmEnd)));
    }
    return hits;
  },
};
