/** Shared by the kmod tests: BTF inputs on disk, tool runners (readelf, modinfo, modprobe), the real .ko files. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { writeBtf } from '../../src/btf/write.js';
import { extrasChain } from '../btf/merge-fixtures.js';
import { vmlinux, vmlinuxBytes } from '../btf/sample.js';
import { readFileSync } from 'node:fs';
import { fixture, haveShared, kernelDir } from '../support/paths.js';

export const tmp = mkdtempSync(join(tmpdir(), 'btf-extra-kmod-'));
let n = 0;
export function tmpFile(name: string, data: Uint8Array | string): string {
  const p = join(tmp, `${n++}-${name}`);
  writeFileSync(p, data);
  return p;
}

/** vmlinux BTF (the committed fixture: the real Debian 6.1 vmlinux BTF) on disk. */
export const vmlinuxPath = (): string => fixture('kernel/btf/vmlinux.gz');

export interface ModuleInputs { vm: string; mod: string; extras: string; vars: readonly string[] }

/** vmlinux -> loop -> extras (test/btf/merge-fixtures.ts: types of all three levels), on disk. */
export function loopInputs(): ModuleInputs {
  const { mod, extras, vars } = extrasChain();
  return { vm: vmlinuxPath(), mod: tmpFile('loop.btf', writeBtf(mod)), extras: tmpFile('loop.extra', writeBtf(extras)), vars: [...vars.keys()] };
}

/** One int VAR in a `.data` DATASEC, split on `base`. */
export function oneVarExtras(base: Btf, varName = 'extra_value', linkage = 0): Btf {
  const b = new BtfBuilder({ base, source: 'extras' });
  const int = base.findByName('int', KIND.INT)[0]!;
  const v = b.addVar(varName, int, linkage);
  b.addDatasec('.data', 4);
  b.addVarInfo(v, 0, 4);
  return b.finish();
}

/** crc7 (exports crc7_be and crc7_be_syndrome_table) with a one-variable extras level. */
export function crc7Inputs(): ModuleInputs & { ko: string } {
  const mod = parseBtf(readFileSync(fixture('kernel/btf/crc7')), { base: vmlinux(), source: 'crc7' });
  return { vm: vmlinuxPath(), mod: fixture('kernel/btf/crc7'), extras: tmpFile('crc7.extra', writeBtf(oneVarExtras(mod))), vars: ['extra_value'], ko: fixture('kernel/debug/crc7.ko') };
}

/** A vmlinux extras level (jiffies-like VARs) on the fixture vmlinux. */
export function vmlinuxExtras(): string {
  return tmpFile('vmlinux.extra', writeBtf(oneVarExtras(vmlinux(), 'extra_jiffies', 1)));
}

export const vmlinuxRaw = (): string => tmpFile('vmlinux.btf', vmlinuxBytes());

export interface ToolResult { ok: boolean; out: string; missing?: string }
export function tool(cmd: string, args: readonly string[]): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error !== undefined) return { ok: false, out: '', missing: `${cmd} is not available (${r.error.message})` };
  return { ok: r.status === 0, out: `${r.stdout}${r.status === 0 ? '' : r.stderr}` };
}

/** Runs a tool the test needs, skipping (with the reason) when it is not installed. */
export function need(ctx: Mocha.Context, cmd: string, args: readonly string[]): string {
  const r = tool(cmd, args);
  if (r.missing !== undefined) { process.stderr.write(`skipping: ${r.missing}\n`); ctx.skip(); }
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.out}`);
  return r.out;
}

/**
 * /lib/modules/<rel>/kernel of the real kernel image .deb in ../shared, extracted once per machine
 * (dpkg-deb -x) into the host temp dir; undefined without ../shared or dpkg-deb.
 */
export function realModulesDir(): string | undefined {
  if (!haveShared) return undefined;
  const imageDir = join(kernelDir, 'image');
  const deb = readdirSync(imageDir).find((f) => f.endsWith('.deb'));
  if (deb === undefined) return undefined;
  const root = join(process.env['BTF_EXTRA_HOST_TMPDIR'] ?? tmpdir(), 'btf-extra-test', deb.replace(/\.deb$/, ''));
  const kernel = join(root, 'lib/modules/6.1.0-56-cloud-amd64/kernel');
  if (existsSync(join(root, '.complete'))) return kernel;
  mkdirSync(root, { recursive: true });
  const r = spawnSync('dpkg-deb', ['-x', join(imageDir, deb), root], { stdio: 'ignore', timeout: 300_000 });
  if (r.status !== 0) return undefined;
  writeFileSync(join(root, '.complete'), '');
  return kernel;
}

/** Every .ko under `dir`, sorted. */
export function koFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...koFiles(p));
    else if (e.name.endsWith('.ko')) out.push(p);
  }
  return out.sort();
}
