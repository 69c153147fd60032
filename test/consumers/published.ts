/**
 * The files the daemon publishes, made here by its own Publisher (src/daemon/publish.ts) with the
 * real BTF library, so every consumer test reads exactly the shapes users get under /run/btf-extra:
 *   - fixtures (always): vmlinux BTF, loop and tcp_bbr with extras encoded from their committed
 *     debug modules -> btf/{vmlinux,loop,loop-btf-extra,...}, merged/{loop,tcp_bbr}, merged/kernel;
 *   - real (only with ../shared): the same plus vmlinux-btf-extra encoded from the slim vmlinux DWARF
 *     (~4 s, ~400 MB) -> merged/vmlinux, and merged/kernel then carries vmlinux's variables too.
 * Each set is built once per process, in the run's temp dir.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { libraryBtfOps } from '../../src/daemon/btf-ops.js';
import { EXTRA_SUFFIX, Publisher } from '../../src/daemon/publish.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';

/** Modules published in both sets (their debug .ko is committed). */
export const MODULES = ['loop', 'tcp_bbr'] as const;

export interface Published {
  readonly dir: string;
  /** btf/<name>: the kernel's own BTF (vmlinux standalone, a module split on vmlinux). */
  btf(name: string): string;
  /** btf/<name>-btf-extra: the extras, split on btf/<name> (3-level chain for a module). */
  extras(name: string): string;
  /** merged/<name>: module + extras as one level on vmlinux; merged/vmlinux and merged/kernel standalone. */
  merged(name: string): string;
  /** Whether vmlinux has extras here (merged/vmlinux exists). */
  readonly vmlinuxExtras: boolean;
}

function layout(dir: string, vmlinuxExtras: boolean): Published {
  return {
    dir,
    btf: (name) => join(dir, 'btf', name),
    extras: (name) => join(dir, 'btf', `${name}${EXTRA_SUFFIX}`),
    merged: (name) => join(dir, 'merged', name),
    vmlinuxExtras,
  };
}

async function publish(label: string, vmlinux: Uint8Array, modBtf: (m: string) => Uint8Array, vmlinuxDwarf: string | undefined): Promise<Published> {
  const dir = mkdtempSync(join(tmpdir(), `btfx-consumers-${label}-`));
  const warnings: string[] = [];
  const pub = new Publisher(dir, libraryBtfOps, (m) => warnings.push(m));
  const vmBtf = parseBtf(vmlinux, { source: 'vmlinux' });
  const vmExtras = vmlinuxDwarf === undefined ? undefined : writeBtf(encodeObject(vmlinuxDwarf, { base: vmBtf, mode: 'extras' }).btf);
  pub.put('vmlinux', vmlinux, vmExtras);
  for (const m of MODULES) {
    const bytes = modBtf(m);
    const extras = encodeObject(fixture('kernel/debug', `${m}.ko`), { base: parseBtf(bytes, { base: vmBtf, source: m }), mode: 'extras' });
    pub.put(m, bytes, writeBtf(extras.btf));
  }
  if (await pub.rebuildKernel() === undefined || warnings.length > 0) throw new Error(`publishing failed: ${warnings.join('; ')}`);
  return layout(dir, vmExtras !== undefined);
}

let fixtureSet: Promise<Published> | undefined;
let realSet: Promise<Published | undefined> | undefined;

/** The published tree made from the committed fixtures. */
export function fixturePublished(): Promise<Published> {
  fixtureSet ??= publish('fixtures', gunzipSync(readFileSync(fixture('kernel/btf/vmlinux.gz'))),
    (m) => readFileSync(fixture('kernel/btf', m)), undefined);
  return fixtureSet;
}

/** The published tree with real vmlinux extras; undefined without ../shared (callers skip). */
export function realPublished(): Promise<Published | undefined> {
  realSet ??= (async () => {
    const debug = vmlinuxDebug();
    if (debug === undefined) return undefined;
    return publish('real', readFileSync(join(kernelDir, 'btf/vmlinux')), (m) => readFileSync(join(kernelDir, 'btf/modules', m)), debug);
  })();
  return realSet;
}

/** For a `before` hook: the real tree, or a skip (with the reason printed once) without ../shared. */
export async function requireRealPublished(ctx: Mocha.Context): Promise<Published> {
  requireShared(ctx);
  ctx.timeout(300_000);
  const real = await realPublished();
  if (real === undefined) { requireShared(ctx); throw new Error('../shared has no vmlinux DWARF'); }
  return real;
}
