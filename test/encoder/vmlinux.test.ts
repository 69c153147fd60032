import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { flattenStandalone } from '../../src/btf/merge.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { haveShared, kernelDir, requireShared } from '../support/paths.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';
import { loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { chainOf, tmpFile, typeCount, varEntries } from './support.js';
import { KIND_NAME } from '../../src/btf/kinds.js';
import { lookupVariable } from '../../src/daemon/lookup.js';

function slimVmlinux(): string {
  const path = vmlinuxDebug();
  assert.ok(path !== undefined, 'the slim vmlinux DWARF');
  return path;
}

describe('encoder on the slim vmlinux (shared)', function () {
  this.timeout(600_000);
  before(function () { requireShared(this); });

  it('extras: valid, every variable of pahole 1.31\'s list, no new type, loads into the kernel', function () {
    if (!haveShared) this.skip();
    const base = chainOf([resolve(kernelDir, 'btf/vmlinux')])!;
    const r = encodeObject(slimVmlinux(), { base });
    assert.deepEqual(validateBtf(r.btf).map((p) => p.message), []);
    const got = new Set(varEntries(r.btf));
    const list = readFileSync(resolve(kernelDir, 'meta/pahole-1.31-global-vars/vmlinux.vars'), 'utf8').split('\n').filter((l) => l !== '');
    assert.deepEqual(list.filter((l) => !got.has(l)), [], 'every variable pahole 1.31 encodes');
    assert.ok(!got.has('.data..percpu\tcpu_debug_store'), 'per-CPU variables the base has are left out');
    assert.equal(typeCount(r.btf), 0, 'vmlinux BTF already has every type its variables need');
    // jiffies: a linker alias of jiffies_64 with only DWARF declarations, in the second .data DATASEC
    assert.ok(got.has('.data\tjiffies'));
    const [hit] = lookupVariable(r.btf, 'jiffies', () => 'vmlinux');
    const [j64] = lookupVariable(r.btf, 'jiffies_64', () => 'vmlinux');
    assert.deepEqual([hit!.section, hit!.offset, hit!.size, hit!.cType], ['.data', j64!.offset, 8, 'volatile long unsigned int']);
    requireOk(this, loadIntoKernel(tmpFile('vmlinux-standalone.btf', writeBtf(flattenStandalone(r.btf)))));
  });

  it('full mode: the same functions and types as pahole 1.24 single-threaded, but for known differences', function () {
    if (!haveShared) this.skip();
    const vmlinux = slimVmlinux();
    const paholeOut = join(process.env['BTF_EXTRA_HOST_TMPDIR'] ?? tmpdir(), 'btf-extra-test', 'vmlinux.pahole-1.24.btf');
    if (!existsSync(paholeOut)) {
      mkdirSync(dirname(paholeOut), { recursive: true });
      const r = spawnSync('pahole', ['-J', '--btf_gen_floats', '--lang_exclude=rust', `--btf_encode_detached=${paholeOut}.tmp`, vmlinux]);
      if (r.error !== undefined) { process.stderr.write('skipping: pahole is not installed\n'); this.skip(); }
      assert.equal(r.status, 0, 'pahole -J');
      renameSync(`${paholeOut}.tmp`, paholeOut);
    }
    const ours = encodeObject(vmlinux, { mode: 'full' }).btf;
    const pahole = chainOf([paholeOut])!;
    const key = (b: typeof ours, t: (typeof ours.types)[number]): string =>
      `${KIND_NAME[t.kind]} '${b.str(t.nameOff)}' vlen=${'members' in t ? t.members.length : 'values' in t ? t.values.length : 'params' in t ? t.params.length : 'vars' in t ? t.vars.length : 0}`;
    const count = (b: typeof ours): Map<string, number> => {
      const m = new Map<string, number>();
      for (const t of b.types) m.set(key(b, t), (m.get(key(b, t)) ?? 0) + 1);
      return m;
    };
    const a = count(ours);
    const p = count(pahole);
    const extra = [...a].filter(([k, n]) => n > (p.get(k) ?? 0)).map(([k]) => k);
    const missing = [...p].filter(([k, n]) => n > (a.get(k) ?? 0)).map(([k]) => k);
    const fn = (m: Map<string, number>): string[] => [...m].filter(([k]) => k.startsWith('FUNC ')).map(([k, n]) => `${k}x${n}`).sort();
    assert.deepEqual(fn(a), fn(p), 'the same FUNCs');
    // pahole 1.24 leaves out fixed_percpu_data (offset 0 of .data..percpu); we keep it
    assert.deepEqual(extra.filter((k) => !k.startsWith('DATASEC')), ["VAR 'fixed_percpu_data' vlen=0"]);
    // pahole's libbpf keeps a few duplicates of types (a struct seen with a FWD deep inside)
    assert.ok(missing.length <= 12, missing.join('; '));
  });
});
