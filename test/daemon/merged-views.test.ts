/**
 * The published merged views of the real Debian 6.1 kernel (shared): vmlinux extras from the slim
 * vmlinux DWARF, extras of the 11 debug modules, merged by the daemon's own BtfOps exactly as
 * publish.ts does. Each is kernel-valid; our C dump of each is a vmlinux.h that gcc and clang
 * -target bpf compile (merged/vmlinux and merged/kernel also with a BPF program using init_net,
 * jiffies, nr_cpu_ids and CRNG_READY); bpftool's own C dump keeps every enumerator of the shipped
 * vmlinux header.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpC } from '../../src/btf/dump-c.js';
import { flattenStandalone } from '../../src/btf/merge.js';
import { parseBtf } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import { libraryBtfOps } from '../../src/daemon/btf-ops.js';
import { lookupVariable } from '../../src/daemon/lookup.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { bpftoolDumpC, loadIntoKernel, requireOk } from '../support/kernel-load.js';
import { kernelDir, requireShared } from '../support/paths.js';
import { vmlinuxDebug } from '../support/vmlinux-debug.js';
import { BPF_PROGRAM, compileHeader } from '../support/c-header.js';
import { tmpFile } from '../encoder/support.js';

const enumerators = (header: string): Set<string> => new Set([...header.matchAll(/^\t([A-Za-z_][A-Za-z0-9_]*) = -?\d+,$/gm)].map((m) => m[1]!));
const typeNames = (header: string): Set<string> =>
  new Set([...header.matchAll(/^(?:struct|union|enum) ([A-Za-z_][A-Za-z0-9_]*) \{$|^typedef .*?\b([A-Za-z_][A-Za-z0-9_]*)(?:\[\d*\])*;$/gm)].map((m) => m[1] ?? m[2]!));

/** What `a` has that `b` lacks (each set computed once: the headers are megabytes). */
const missing = (a: Set<string>, b: Set<string>): string[] => [...a].filter((x) => !b.has(x));

describe('daemon: published merged views of the real kernel (shared)', function () {
  this.timeout(900_000);
  const vmPath = join(kernelDir, 'btf/vmlinux');
  let vm: Uint8Array;
  let vmExtras: Uint8Array;
  const modules = new Map<string, { btf: Uint8Array; extras: Uint8Array }>();
  let shipped: string;

  before(function () {
    requireShared(this);
    const debug = vmlinuxDebug();
    if (debug === undefined) this.skip();
    vm = readFileSync(vmPath);
    const vmBtf = parseBtf(vm, { source: vmPath });
    vmExtras = writeBtf(encodeObject(debug, { base: vmBtf }).btf);
    for (const f of readdirSync(join(kernelDir, 'debug')).sort()) {
      const name = f.replace(/\.ko$/, '').replace(/-/g, '_');
      const btf = readFileSync(join(kernelDir, 'btf/modules', name));
      const extras = encodeObject(join(kernelDir, 'debug', f), { base: parseBtf(btf, { base: vmBtf }) }).btf;
      modules.set(name, { btf, extras: writeBtf(extras) });
    }
    shipped = requireOk(this, bpftoolDumpC(vmPath));
  });

  it('merged/vmlinux: kernel-valid; bpftool keeps every enumerator; our vmlinux.h has every type and enumerator and compiles with a BPF program', function () {
    const bytes = libraryBtfOps.flattenStandalone([vm, vmExtras]);
    const btf = parseBtf(bytes);
    assert.deepEqual(validateBtf(btf), []);
    requireOk(this, loadIntoKernel(tmpFile('merged-vmlinux', bytes)));
    const theirs = requireOk(this, bpftoolDumpC(tmpFile('merged-vmlinux', bytes)));
    assert.deepEqual(missing(enumerators(shipped), enumerators(theirs)), [], 'bpftool\'s dump of merged/vmlinux has every enumerator of the shipped header');
    const ours = dumpC(btf);
    assert.deepEqual(missing(enumerators(shipped), enumerators(ours)), []);
    assert.deepEqual(missing(typeNames(shipped), typeNames(ours)), []);
    assert.match(ours, /^extern volatile long unsigned int jiffies __ksym;$/m);
    requireOk(this, compileHeader(ours, BPF_PROGRAM));
  });

  it('merged/<module> for each debug module: kernel-valid, our whole-chain vmlinux.h compiles (gcc, clang -target bpf)', function () {
    for (const [name, m] of modules) {
      const bytes = libraryBtfOps.flattenOnto([vm, m.btf, m.extras]);
      const btf = parseBtf(bytes, { base: parseBtf(vm) });
      assert.deepEqual(validateBtf(btf), [], name);
      requireOk(this, loadIntoKernel(tmpFile(`merged-${name}`, writeBtf(flattenStandalone(btf)))));
      const r = compileHeader(dumpC(btf, { wholeChain: true }));
      if (!r.ok && 'error' in r) assert.fail(`${name}: ${r.error}`);
      requireOk(this, r);
    }
  });

  it('merged/kernel: per-object DATASECs, kernel-valid, lookup lists every candidate, vmlinux.h compiles with a BPF program', async function () {
    const names = readdirSync(join(kernelDir, 'btf/modules')).sort();
    const siblings = names.map((n) => {
      const m = modules.get(n);
      return m ? [m.btf, m.extras] : [readFileSync(join(kernelDir, 'btf/modules', n))];
    });
    // As publish.ts builds it: one part per module on the kernel base, joined in name order.
    const parts = await Promise.all(siblings.map((chain, i) => libraryBtfOps.kernelPart([vm, vmExtras], chain, names[i]!)));
    const bytes = await libraryBtfOps.joinKernel([vm, vmExtras], parts);
    const btf = parseBtf(bytes);
    assert.deepEqual(validateBtf(btf), []);
    requireOk(this, loadIntoKernel(tmpFile('merged-kernel', bytes)));
    const hits = lookupVariable(btf, 'has_steal_clock', () => '?');
    assert.ok(hits.length >= 2, 'every candidate of an ambiguous name');
    assert.ok(hits.every((h) => h.object !== '?' && h.section !== ''), JSON.stringify(hits));
    const kvmVars = lookupVariable(btf, 'kvm_vcpu_cache', () => '?');
    assert.deepEqual(kvmVars.map((h) => h.object), ['kvm']);
    const theirs = requireOk(this, bpftoolDumpC(tmpFile('merged-kernel', bytes)));
    assert.deepEqual(missing(enumerators(shipped), enumerators(theirs)), []);
    const ours = dumpC(btf);
    assert.match(ours, /__ksym __weak;/, 'module variables are weak');
    requireOk(this, compileHeader(ours, BPF_PROGRAM));
  });
});
