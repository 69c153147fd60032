/**
 * Generated companions through the daemon (destination kernel/both) on an injected root, with the
 * real encoder and BTF library and a fake kernel: its insmod accepts a module only when our own ELF
 * reader finds its .BTF valid as split on vmlinux (what the real kernel requires), shows it in
 * sys/kernel/btf and /proc/modules; its rmmod refuses a module "in use". Loading into a real kernel
 * happens only in the VM test bed (test/vm).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseBtf } from '../../src/btf/parse.js';
import { validateBtf } from '../../src/btf/validate.js';
import { writeBtf } from '../../src/btf/write.js';
import type { KernelPort } from '../../src/daemon/companions.js';
import { libraryBtfOps } from '../../src/daemon/btf-ops.js';
import type { EncodeRequest, ExtrasEncoder } from '../../src/daemon/encoder.js';
import type { InjectedRoot } from '../../src/demo/root.js';
import { ElfFile } from '../../src/elf/file.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { newRoot, startDaemon, type Harness } from './harness.js';

/** The library encoder in-process (the daemon's warm pool runs the same code in a child). */
const libraryEncoder: ExtrasEncoder = {
  async encode(req: EncodeRequest): Promise<Uint8Array> {
    let base = parseBtf(readFileSync(req.bases[0]!));
    for (const b of req.bases.slice(1)) base = parseBtf(readFileSync(b), { base });
    return writeBtf(encodeObject(req.debugFile, { base, vars: req.vars }).btf);
  },
};

class FakeKernel implements KernelPort {
  readonly calls: string[] = [];
  readonly inUse = new Set<string>();
  refuseInsmod: string | undefined;
  constructor(private readonly root: InjectedRoot) {}
  async insmod(file: string): Promise<void> {
    const module = basename(file, '.ko');
    this.calls.push(`insmod ${module}`);
    if (this.refuseInsmod !== undefined) throw new Error(this.refuseInsmod);
    const elf = ElfFile.fromBytes(readFileSync(file), file);
    const sec = elf.section('.BTF');
    assert.ok(sec && elf.section('.gnu.linkonce.this_module') && elf.section('.modinfo'), 'a loadable module');
    const btf = elf.sectionData(sec);
    const vmlinux = parseBtf(readFileSync(this.root.paths.sysBtf('vmlinux')));
    assert.deepEqual(validateBtf(parseBtf(btf, { base: vmlinux })), [], 'the kernel parses module BTF on vmlinux');
    this.root.loadCompanion(module.replace(/_btf_extra$/, ''), btf);
  }
  async rmmod(module: string): Promise<void> {
    this.calls.push(`rmmod ${module}`);
    if (this.inUse.has(module)) throw new Error(`rmmod: ERROR: Module ${module} is in use`);
    this.root.unload(module);
  }
  async hold(module: string, btfId: number, pinPath: string): Promise<void> {
    this.calls.push(`hold ${module}`);
    assert.ok(btfId > 0);
    mkdirSync(dirname(pinPath), { recursive: true });
    writeFileSync(pinPath, `prog holding ${module} via ${btfId}`);
  }
  async unhold(pinPath: string): Promise<void> {
    this.calls.push(`unhold ${basename(pinPath)}`);
    if (!existsSync(pinPath)) return;
    const { rmSync } = await import('node:fs');
    rmSync(pinPath);
  }
}

/** The fixture debug .ko stands in for the installed one (same vermagic, __versions, exports). */
function installModules(root: InjectedRoot, names: readonly string[]): void {
  for (const n of names) {
    const m = root.module(n);
    const dest = join(root.paths.moduleTree(root.fixtures.release), 'kernel', m.relPath);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(m.debugFile!, dest);
  }
}

describe('daemon: generated companions in the kernel (fake kernel, real encoder)', function () {
  this.timeout(120_000);
  let h: Harness | undefined;
  afterEach(async () => { await h?.daemon.stop(); h = undefined; });

  async function boot(config: unknown, kernel?: FakeKernel, root = newRoot()): Promise<{ h: Harness; kernel: FakeKernel; root: InjectedRoot }> {
    installModules(root, ['loop', 'crc7']);
    if (root.loadedModules.length === 0) { root.load('loop'); root.load('crc7'); }
    const k = kernel ?? new FakeKernel(root);
    h = await startDaemon(root, { encoder: libraryEncoder, btf: libraryBtfOps, kernel: k, config });
    await h.daemon.settle();
    await h.daemon.settle();
    return { h, kernel: k, root };
  }
  const kernelOf = (name: string) => h!.daemon.status().objects.find((o) => o.name === name)?.kernel;

  it('destination both: a module with an export imports it, one without is held by a pinned program first; files stay published', async () => {
    const { kernel, root } = await boot({ destination: 'both', policy: { default: 'always' } });
    const crc7 = kernelOf('crc7');
    const loop = kernelOf('loop');
    assert.equal(crc7?.state, 'loaded', JSON.stringify(crc7));
    assert.match(crc7!.hold ?? '', /imports crc7_be/);
    assert.equal(loop?.state, 'loaded', JSON.stringify(loop));
    assert.match(loop!.hold ?? '', /pinned BPF program .*sys\/fs\/bpf\/btf-extra\/hold-loop/);
    assert.ok(kernel.calls.indexOf('hold loop') >= 0 && kernel.calls.indexOf('hold loop') < kernel.calls.indexOf('insmod loop_btf_extra'), kernel.calls.join(', '));
    assert.ok(!kernel.calls.includes('hold crc7'), 'an imported export needs no pinned program');
    // The kernel shows the companion's BTF: max_loop as a VAR split on vmlinux.
    const shown = parseBtf(readFileSync(root.paths.sysBtf('loop_btf_extra')), { base: parseBtf(readFileSync(root.paths.sysBtf('vmlinux'))) });
    assert.ok(shown.types.some((t) => t.kind === 14 && shown.str(t.nameOff) === 'max_loop'));
    assert.equal(loop!.btf, '/sys/kernel/btf/loop_btf_extra');
    assert.ok(existsSync(join(h!.daemon.runtimeDir, 'btf/loop-btf-extra')), 'both: the files are still published');
    assert.equal(h!.daemon.status().objects.find((o) => o.name === 'vmlinux')?.kernel, undefined, 'vmlinux has no debuginfo here: nothing to insert');
  });

  it('a hidden /proc/kallsyms (empty under ProtectKernelTunables=, or absent) inserts nothing and says why; files stay published', async () => {
    for (const hide of ['empty', 'absent'] as const) {
      const root = newRoot();
      if (hide === 'empty') writeFileSync(root.paths.procKallsyms, ''); else rmSync(root.paths.procKallsyms);
      const { kernel } = await boot({ destination: 'both' }, undefined, root);
      for (const name of ['loop', 'crc7']) {
        const k = kernelOf(name);
        assert.equal(k?.state, 'not-loaded', JSON.stringify(k));
        assert.equal(k?.code, 'companion-unsafe');
        assert.match(k?.reason ?? '', hide === 'empty' ? /\/proc\/kallsyms reads empty/ : /\/proc\/kallsyms cannot be read/);
        assert.match(k?.hint ?? '', /kernel-companions\.conf/);
      }
      assert.deepEqual(kernel.calls, [], 'no hold, no insmod');
      assert.ok(existsSync(join(h!.daemon.runtimeDir, 'btf/loop-btf-extra')), 'the files are still published');
      await h!.daemon.stop();
      h = undefined;
    }
  });

  it('release takes the companion out, then drops the hold, and it is not inserted again; in use, it stays', async () => {
    const { kernel, root } = await boot({ destination: 'both' });
    kernel.inUse.add('crc7_btf_extra');
    await assert.rejects(h!.daemon.release(['crc7']), /in use/);
    assert.equal(kernelOf('crc7')?.state, 'loaded');
    const out = await h!.daemon.release(['loop']);
    assert.equal(out[0]?.kernel?.state, 'released');
    const i = kernel.calls.indexOf('rmmod loop_btf_extra');
    assert.ok(i >= 0 && kernel.calls.indexOf('unhold hold-loop') > i, kernel.calls.join(', '));
    assert.ok(!existsSync(join(root.paths.bpffsDir, 'btf-extra/hold-loop')));
    await h!.daemon.reconcile();
    await h!.daemon.settle();
    assert.equal(kernel.calls.filter((c) => c === 'insmod loop_btf_extra').length, 1, 'not inserted again');
    await assert.rejects(h!.daemon.release(['loop']), /no generated companion loaded/);
  });

  it('a daemon restart adopts its companions without inserting them again; destination files removes them', async () => {
    const first = await boot({ destination: 'both' });
    await h!.daemon.stop();
    h = undefined;
    const kernel = new FakeKernel(first.root);
    await boot({ destination: 'both' }, kernel, first.root);
    assert.equal(kernelOf('loop')?.state, 'loaded');
    assert.deepEqual(kernel.calls.filter((c) => c.startsWith('insmod')), [], kernel.calls.join(', '));
    await h!.daemon.stop();
    h = undefined;
    const again = new FakeKernel(first.root);
    await boot({ destination: 'files' }, again, first.root);
    assert.deepEqual(again.calls.sort(), ['rmmod crc7_btf_extra', 'rmmod loop_btf_extra', 'unhold hold-loop'].sort());
    assert.ok(!existsSync(first.root.paths.sysBtf('loop_btf_extra')));
  });

  it('lockdown without a signing key: nothing is inserted, status says why with the code and a hint', async () => {
    const root = newRoot();
    mkdirSync(dirname(root.paths.lockdown), { recursive: true });
    writeFileSync(root.paths.lockdown, 'none [integrity] confidentiality\n');
    const { kernel } = await boot({ destination: 'kernel' }, undefined, root);
    assert.deepEqual(kernel.calls, []);
    const loop = kernelOf('loop');
    assert.equal(loop?.state, 'not-loaded');
    assert.equal(loop?.code, 'companion-unsigned');
    assert.match(loop?.hint ?? '', /signKey/);
    assert.ok(existsSync(join(h!.daemon.runtimeDir, 'btf/loop-btf-extra')), 'not inserted: the files are published');
  });

  it('a refused insmod drops the hold it took; destination kernel keeps no extras file for an inserted companion', async () => {
    const root = newRoot();
    const kernel = new FakeKernel(root);
    kernel.refuseInsmod = 'insmod: ERROR: could not insert module: Key was rejected by service';
    await boot({ destination: 'kernel' }, kernel, root);
    assert.equal(kernelOf('loop')?.code, 'companion-refused');
    assert.match(kernelOf('loop')?.reason ?? '', /Key was rejected/);
    assert.ok(kernel.calls.includes('unhold hold-loop') && !existsSync(join(root.paths.bpffsDir, 'btf-extra/hold-loop')));
    // A regen tries again (and now the kernel takes it).
    kernel.refuseInsmod = undefined;
    await h!.daemon.regen({ names: ['loop'] });
    await h!.daemon.settle();
    await h!.daemon.reconcile();
    assert.equal(kernelOf('loop')?.state, 'loaded');
    assert.ok(!existsSync(join(h!.daemon.runtimeDir, 'btf/loop-btf-extra')), 'destination kernel: the kernel carries the extras');
  });

  it('a companion removed by hand is noticed: its hold is dropped and it is not forced back', async () => {
    const { kernel, root } = await boot({ destination: 'both' });
    root.unload('loop_btf_extra');
    await h!.daemon.reconcile();
    await h!.daemon.settle();
    assert.equal(kernelOf('loop')?.state, 'not-loaded');
    assert.match(kernelOf('loop')?.reason ?? '', /removed outside the daemon/);
    assert.ok(kernel.calls.includes('unhold hold-loop'));
    assert.equal(kernel.calls.filter((c) => c === 'insmod loop_btf_extra').length, 1);
  });

  it('a base forced out under its companion (rmmod -f): the companion is removed, the pin is kept (releasing it would put a freed module)', async () => {
    const { kernel, root } = await boot({ destination: 'both' });
    root.unload('loop');
    await h!.daemon.reconcile();
    await h!.daemon.settle();
    assert.ok(kernel.calls.includes('rmmod loop_btf_extra'), kernel.calls.join(', '));
    assert.ok(!kernel.calls.includes('unhold hold-loop'), kernel.calls.join(', '));
    assert.ok(existsSync(join(root.paths.bpffsDir, 'btf-extra/hold-loop')));
    assert.equal(h!.daemon.status().objects.find((o) => o.name === 'loop'), undefined);
  });
});
