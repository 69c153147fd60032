/**
 * Every module of a real kernel tree (issue 11), opt-in: shared/ has the shipped BTF of all 1121
 * modules of Debian's 6.1 cloud kernel but the DWARF of only 11. With the debug package unpacked
 * the whole tree is checked:
 *
 *   apt-get download linux-image-6.1.0-56-cloud-amd64-dbg      # 283 MB, 1.7 GB unpacked
 *   dpkg-deb -x linux-image-6.1.0-56-cloud-amd64-dbg_*.deb DIR
 *   BTF_EXTRA_DEBUG_TREE=DIR/usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64 npx mocha dist/test/encoder/whole-tree.test.js
 *
 * Without BTF_EXTRA_DEBUG_TREE (or without shared/) it skips, saying so.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { makeCompanionFrom } from '../../src/kmod/make.js';
import { readInstalledModule } from '../../src/kmod/installed-ko.js';
import { koFiles, realModulesDir } from '../kmod/support.js';
import { loadIntoKernel } from '../support/kernel-load.js';
import { haveShared, kernelDir, repoRoot } from '../support/paths.js';

const treeDir = process.env['BTF_EXTRA_DEBUG_TREE'];
const cli = resolve(repoRoot, 'dist/src/cli/btf-extra.js');

function debugModules(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p); else if (e.endsWith('.ko')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** "KIND name" of every named type of `btf`'s own level, with counts. */
function namedTypes(btf: Btf, from = btf.startId): Map<string, number> {
  const m = new Map<string, number>();
  for (let id = from; id < btf.nextId; id++) {
    const t = btf.type(id);
    const n = btf.str(t.nameOff);
    if (n !== '') m.set(`${t.kind} ${n}`, (m.get(`${t.kind} ${n}`) ?? 0) + 1);
  }
  return m;
}

describe('encoder: every module of the Debian 6.1 tree (opt-in: BTF_EXTRA_DEBUG_TREE)', function () {
  this.timeout(30 * 60_000);
  const shippedDir = resolve(kernelDir, 'btf/modules');
  const vmlinuxFile = resolve(kernelDir, 'btf/vmlinux');
  let modules: { ko: string; name: string }[] = [];
  let work = '';

  before(function () {
    if (treeDir === undefined || !haveShared || !existsSync(join(treeDir, 'kernel'))) {
      process.stderr.write('skipping the whole-tree check: set BTF_EXTRA_DEBUG_TREE to an unpacked linux-image-<rel>-dbg lib/modules/<rel> (with ../shared present)\n');
      this.skip();
    }
    modules = debugModules(join(treeDir, 'kernel')).map((ko) => ({ ko, name: basename(ko, '.ko').replace(/-/g, '_') }));
    work = join(process.env['TMPDIR'] ?? '/tmp', `whole-tree-${process.pid}`);
    mkdirSync(join(work, 'extras'), { recursive: true });
    mkdirSync(join(work, 'full'), { recursive: true });
  });

  /** stdout lines of `encode --batch`; warnings (stderr) about a variable left out fail the test. */
  const batch = (list: string, mode: 'extras' | 'full'): string[] => {
    const r = spawnSync(process.execPath, [cli, 'encode', '--batch', list, '--mode', mode], { maxBuffer: 64 << 20, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.deepEqual(r.stderr.split('\n').filter((l) => /invalid-type|cannot be encoded|left out/.test(l)).slice(0, 10), []);
    return r.stdout.split('\n').filter((l) => l !== '');
  };

  it('extras: every module encodes in one batch, nothing left out, and all of them merged onto vmlinux load into the running kernel', function () {
    assert.ok(modules.length > 1000, `${modules.length} debug modules`);
    const missing = modules.filter((m) => !existsSync(join(shippedDir, m.name)));
    assert.deepEqual(missing.map((m) => m.name), [], 'every debug module has its shipped BTF');
    const list = join(work, 'extras.list');
    writeFileSync(list, modules.map((m) => `${m.ko} ${join(work, 'extras', m.name)} ${vmlinuxFile} ${join(shippedDir, m.name)}\n`).join(''));
    const lines = batch(list, 'extras');
    assert.equal(lines.filter((l) => l.startsWith('ok ')).length, modules.length, lines.filter((l) => !l.startsWith('ok ')).slice(0, 5).join('\n'));
    const merged = join(work, 'kernel-all.btf');
    execFileSync(process.execPath, [cli, 'merge', '--standalone', '--base', vmlinuxFile,
      ...modules.map((m) => `${join(shippedDir, m.name)}+${join(work, 'extras', m.name)}`), '-o', merged], { maxBuffer: 64 << 20 });
    const r = loadIntoKernel(merged);
    if ('skipReason' in r) this.skip();
    assert.ok(r.ok, r.ok ? '' : r.error);
  });

  it('companions: every module gets a valid <name>_btf_extra with something that holds its base (runs after the extras case)', function () {
    const installed = realModulesDir();
    if (installed === undefined || !existsSync(join(work, 'extras', 'loop'))) this.skip();
    const kos = new Map(koFiles(installed).map((p) => [basename(p, '.ko').replace(/-/g, '_'), p]));
    const vmlinux = parseBtf(readFileSync(vmlinuxFile));
    const holds = new Map<string, number>();
    const failed: string[] = [];
    for (const m of modules) {
      const ko = kos.get(m.name);
      if (ko === undefined) { failed.push(`${m.name}: not installed`); continue; }
      try {
        const mod = parseBtf(readFileSync(join(shippedDir, m.name)), { base: vmlinux });
        const extras = parseBtf(readFileSync(join(work, 'extras', m.name)), { base: mod });
        // makeCompanionFrom validates the companion's BTF in full before it returns bytes.
        const made = makeCompanionFrom({ name: m.name, vmlinux, extras, ko: readInstalledModule(ko), koPath: ko, vmlinuxFile });
        const how = made.hold.safe ? made.hold.mechanism : 'unsafe';
        holds.set(how, (holds.get(how) ?? 0) + 1);
      } catch (e) { failed.push(`${m.name}: ${(e as Error).message.split('\n')[0]}`); }
    }
    assert.deepEqual(failed.slice(0, 10), []);
    assert.equal(holds.get('unsafe'), undefined, JSON.stringify([...holds]));
    assert.equal((holds.get('imports-export') ?? 0) + (holds.get('pinned-program') ?? 0), modules.length);
  });

  it('full mode: every named type of each shipped module BTF (pahole 1.24) is in our chain', function () {
    const vmlinux = parseBtf(readFileSync(vmlinuxFile));
    const inVmlinux = namedTypes(vmlinux, 1);
    const list = join(work, 'full.list');
    writeFileSync(list, modules.map((m) => `${m.ko} ${join(work, 'full', m.name)} ${vmlinuxFile}\n`).join(''));
    const lines = batch(list, 'full');
    assert.equal(lines.filter((l) => l.startsWith('ok ')).length, modules.length);
    const lacking: string[] = [];
    for (const m of modules) {
      const ours = namedTypes(parseBtf(readFileSync(join(work, 'full', m.name)), { base: vmlinux }));
      for (const k of namedTypes(parseBtf(readFileSync(join(shippedDir, m.name)), { base: vmlinux })).keys()) {
        if (!ours.has(k) && !inVmlinux.has(k)) lacking.push(`${m.name}: ${k}`);
      }
    }
    assert.deepEqual(lacking, []);
    // The example: sctp's typedef of a function type.
    const sctp = parseBtf(readFileSync(join(work, 'full', 'sctp')), { base: vmlinux });
    assert.ok(sctp.findByName('sctp_state_fn_t', KIND.TYPEDEF).length > 0);
  });
});
