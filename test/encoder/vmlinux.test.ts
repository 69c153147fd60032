import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { flattenStandalone } from '../../src/btf/merge.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { haveShared, kernelDir, requireShared } from '../support/paths.js';
import { loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { chainOf, tmpFile, typeCount, varEntries } from './support.js';

/** The slim vmlinux, decompressed once into the OS temp dir (shared with bench/encode.ts). */
function slimVmlinux(): string {
  const dir = join(tmpdir(), 'btf-extra-bench');
  const path = join(dir, 'vmlinux.debug');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('sh', ['-c', `xz -dc '${resolve(kernelDir, 'vmlinux.debug.xz')}' > '${path}.tmp-${process.pid}'`]);
    assert.equal(r.status, 0, 'xz -dc vmlinux.debug.xz');
    renameSync(`${path}.tmp-${process.pid}`, path);
  }
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
    requireOk(this, loadIntoKernel(tmpFile('vmlinux-standalone.btf', writeBtf(flattenStandalone(r.btf)))));
  });
});
