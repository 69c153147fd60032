/** Helpers shared by the encoder tests: chains from fixtures, dumps, oracles on temp files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { flattenOnto, flattenStandalone } from '../../src/btf/merge.js';
import { writeBtf } from '../../src/btf/write.js';
import { readBaseChain } from '../../src/encoder/chain.js';

export const tmp = mkdtempSync(join(tmpdir(), 'btf-extra-encoder-'));
let n = 0;
export function tmpFile(name: string, data: Uint8Array): string {
  const p = join(tmp, `${n++}-${name}`);
  writeFileSync(p, data);
  return p;
}

const chains = new Map<string, Btf | undefined>();
export function chainOf(paths: readonly string[]): Btf | undefined {
  const key = paths.join('\n');
  if (!chains.has(key)) chains.set(key, readBaseChain(paths));
  return chains.get(key);
}

/** `section\tname` for every DATASEC entry of `btf`'s own level, sorted. */
export function varEntries(btf: Btf): string[] {
  const out: string[] = [];
  for (const t of btf.types) {
    if (t.kind !== KIND.DATASEC) continue;
    for (const v of t.vars) out.push(`${btf.str(t.nameOff)}\t${btf.str(btf.type(v.type).nameOff)}`);
  }
  return out.sort();
}

/** Raw files for the oracles: the root (plain, for -B), the top flattened onto the root, and standalone. */
export function oracleFiles(top: Btf): { root: string; flat: string; standalone: string; top: string } {
  const root = top.chain()[0]!;
  return {
    root: tmpFile('root.btf', writeBtf(root)),
    flat: root === top ? tmpFile('flat.btf', writeBtf(top)) : tmpFile('flat.btf', writeBtf(flattenOnto(top, root))),
    standalone: tmpFile('standalone.btf', writeBtf(flattenStandalone(top))),
    top: tmpFile('top.btf', writeBtf(top)),
  };
}

/** Number of own types that are not VAR/DATASEC. */
export function typeCount(btf: Btf): number {
  return btf.types.filter((t) => t.kind !== KIND.VAR && t.kind !== KIND.DATASEC).length;
}
