/**
 * Hazard 1, the pinned-program hold: the pure chooser on the real Debian 6.1 BTF (committed
 * fixtures) and on built chains, the error mapping with an injected runner, and the embedded Perl
 * program against this host's kernel (vmlinux BTF only: loads a program, never a module; skips
 * when bpf(2) is not permitted here).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Btf } from '../../src/btf/btf.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf, readBtfFile } from '../../src/btf/parse.js';
import type { DatasecType } from '../../src/btf/types.js';
import { hostPaths } from '../../src/host/paths.js';
import {
  HOLD_EXIT, HOLD_PROGRAM, holdModule, holdPinPath, perlRunner, pickHoldSymbol, probeHold, releaseHold,
  type HoldRun, type HoldRunner,
} from '../../src/kmod/bpf-hold.js';
import { KmodError, type KmodErrorCode } from '../../src/kmod/errors.js';
import { parseKallsyms } from '../../src/kmod/kallsyms.js';
import { vmlinux } from '../btf/sample.js';
import { fixture, kernelDir, requireShared } from '../support/paths.js';

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: KmodErrorCode, message?: RegExp): Promise<KmodError> {
  let caught: unknown;
  try { await (typeof p === 'function' ? p() : p); } catch (e) { caught = e; }
  assert.ok(caught instanceof KmodError, `expected KmodError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.doesNotMatch(caught.message, /\n/);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** A runner that answers like the Perl program would, and records what it was asked. */
function fakeRunner(answer: Partial<HoldRun>): HoldRunner & { calls: { args: readonly string[]; program: string; timeoutMs: number }[] } {
  const calls: { args: readonly string[]; program: string; timeoutMs: number }[] = [];
  const run = (args: readonly string[], program: string, timeoutMs: number): Promise<HoldRun> => {
    calls.push({ args, program, timeoutMs });
    return Promise.resolve({ status: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...answer });
  };
  return Object.assign(run, { calls });
}

const loopBtf = (): Btf => readBtfFile(fixture('kernel/btf/loop'), { base: vmlinux() });
const datasecOffsetOf = (btf: Btf, varId: number): number | undefined => {
  for (let id = 1; id < btf.nextId; id++) {
    const t = btf.type(id);
    if (t.kind === KIND.DATASEC) for (const v of (t as DatasecType).vars) if (v.type === varId) return v.offset;
  }
  return undefined;
};

/** A tiny standalone "vmlinux": int, per-CPU VARs at the given offsets, optionally a FUNC. */
function tinyVmlinux(varOffsets: readonly number[], withFunc: boolean): Btf {
  const b = new BtfBuilder({ source: 'tiny-vmlinux' });
  const int = b.addInt('int', 4, 1);
  const vars = varOffsets.map((_, i) => b.addVar(`pcpu_${i}`, int, 0));
  if (withFunc) b.addFunc('do_thing', b.addFuncProto(int), 1);
  if (vars.length > 0) {
    b.addDatasec('.data..percpu', Math.max(...varOffsets) + 4);
    vars.forEach((v, i) => b.addVarInfo(v, varOffsets[i]!, 4));
  }
  return b.finish();
}

describe('kmod bpf-hold (hazard 1: a pinned program holds the base)', () => {
  describe('pickHoldSymbol', () => {
    it('real loop on real vmlinux: loop has no VAR, so the first vmlinux per-CPU VAR not at offset 0', () => {
      const loop = loopBtf();
      const s = pickHoldSymbol(loop);
      assert.deepEqual(s, { id: 3393, name: 'cpu_loops_per_jiffy', kind: 'var', level: 'vmlinux' });
      assert.equal(loop.kindOf(s.id), KIND.VAR);
      assert.ok((datasecOffsetOf(vmlinux(), s.id) ?? 0) > 0);
      assert.deepEqual(pickHoldSymbol(loopBtf()), s, 'same chain, same choice');
    });

    it('a vmlinux VAR at offset 0 is never chosen (its kallsyms address reads as 0 on x86_64)', () => {
      const v = tinyVmlinux([0, 8], false);
      assert.equal(pickHoldSymbol(v)?.name, 'pcpu_1');
      assert.equal(pickHoldSymbol(tinyVmlinux([0], false)), undefined);
    });

    it('with kallsyms: only listed names; on a kernel without KALLSYMS_ALL (no data symbols) a FUNC of loop itself', () => {
      const loop = loopBtf();
      const textOnly = parseKallsyms([
        'ffffffffc0a00000 t loop_configure\t[loop]',
        'ffffffffc0a00100 t lo_release\t[loop]',
        'ffffffff81000000 T _text',
      ].join('\n'));
      const s = pickHoldSymbol(loop, textOnly);
      assert.ok(s !== undefined && s.kind === 'func' && s.level === 'module', JSON.stringify(s));
      assert.ok(s.id >= loop.startId && loop.kindOf(s.id) === KIND.FUNC);
      assert.ok(['loop_configure', 'lo_release'].includes(s.name));
      // The lower id of the two listed names wins.
      const ids = ['loop_configure', 'lo_release'].map((n) => loop.findByName(n, KIND.FUNC)[0]!);
      assert.equal(s.id, Math.min(...ids));
      // A listed vmlinux per-CPU VAR beats any FUNC (6.1 refuses FUNCs).
      const withVar = parseKallsyms('000000000001f000 A cpu_tss_rw\nffffffffc0a00000 t loop_configure\t[loop]');
      assert.deepEqual(pickHoldSymbol(loop, withVar), { id: vmlinux().findByName('cpu_tss_rw', KIND.VAR)[0]!, name: 'cpu_tss_rw', kind: 'var', level: 'vmlinux' });
      assert.equal(pickHoldSymbol(loop, parseKallsyms('')), undefined);
    });

    it("a module's own VAR comes before vmlinux's", () => {
      const b = new BtfBuilder({ base: vmlinux(), source: 'mod' });
      const int = vmlinux().findByName('int', KIND.INT)[0]!;
      const own = b.addVar('mod_pcpu', int, 0);
      b.addDatasec('.data..percpu', 4);
      b.addVarInfo(own, 0, 4);
      const mod = b.finish();
      assert.deepEqual(pickHoldSymbol(mod), { id: own, name: 'mod_pcpu', kind: 'var', level: 'module' });
      // Not listed in kallsyms (e.g. an __initdata one): vmlinux's listed VAR instead.
      assert.equal(pickHoldSymbol(mod, parseKallsyms('000000000001f000 A cpu_tss_rw'))?.name, 'cpu_tss_rw');
    });

    it('over the whole 6.1 tree (../shared): every module with BTF can be held, own VARs first', function () {
      this.timeout(300_000);
      requireShared(this);
      const dir = join(kernelDir, 'btf/modules');
      const names = readdirSync(dir).sort();
      assert.equal(names.length, 1121);
      const byLevel = { module: 0, vmlinux: 0 };
      for (const name of names) {
        const s = pickHoldSymbol(readBtfFile(join(dir, name), { base: vmlinux() }));
        assert.ok(s !== undefined && s.kind === 'var', name);
        byLevel[s.level]++;
        if (s.level === 'vmlinux') assert.equal(s.name, 'cpu_loops_per_jiffy', name);
      }
      process.stderr.write(`      (${byLevel.module} modules pinned on a VAR of their own, ${byLevel.vmlinux} on vmlinux's cpu_loops_per_jiffy)\n`);
      assert.deepEqual(byLevel, { module: 23, vmlinux: 1098 });
    });

    it('undefined when the chain has neither a usable VAR nor a FUNC', () => {
      assert.equal(pickHoldSymbol(tinyVmlinux([], false)), undefined);
      assert.deepEqual(pickHoldSymbol(tinyVmlinux([], true)), { id: 3, name: 'do_thing', kind: 'func', level: 'vmlinux' });
    });
  });

  describe('runner and errors (injected runner)', () => {
    it('holdModule passes hold MODULE ID PIN and the program, and reads the ids', async () => {
      const run = fakeRunner({ stdout: 'held loop prog_id=42 btf_obj_id=7\n' });
      assert.deepEqual(await holdModule(run, { module: 'loop', btfId: 3393, pinPath: '/sys/fs/bpf/btf-extra/hold-loop', timeoutMs: 1234 }),
        { progId: 42, btfObjectId: 7 });
      assert.deepEqual(run.calls[0]!.args, ['hold', 'loop', '3393', '/sys/fs/bpf/btf-extra/hold-loop']);
      assert.equal(run.calls[0]!.program, HOLD_PROGRAM);
      assert.equal(run.calls[0]!.timeoutMs, 1234);
      const probe = fakeRunner({ stdout: 'probed vmlinux prog_id=9 btf_obj_id=0\n' });
      assert.deepEqual(await probeHold(probe, { module: 'vmlinux', btfId: 5 }), { progId: 9, btfObjectId: 0 });
      assert.deepEqual(probe.calls[0]!.args, ['probe', 'vmlinux', '5']);
    });

    it('hold-no-btf / hold-refused / hold-pin-failed / hold-denied / hold-unavailable / hold-failed from the exit code, with the reason', async () => {
      const assertExit = async (status: number, code: KmodErrorCode): Promise<void> => {
        const run = fakeRunner({ status, stderr: `noise\nbpf-hold: reason for ${status}\n` });
        const e = await rejectsWith(holdModule(run, { module: 'loop', btfId: 1, pinPath: '/b/hold-loop' }), code, new RegExp(`^hold loop \\(BTF id 1\\): reason for ${status}$`));
        assert.equal(e.details['exit'], status);
      };
      await assertExit(HOLD_EXIT.noBtf, 'hold-no-btf');
      await assertExit(HOLD_EXIT.refused, 'hold-refused');
      await assertExit(HOLD_EXIT.pinFailed, 'hold-pin-failed');
      await assertExit(HOLD_EXIT.denied, 'hold-denied');
      await assertExit(HOLD_EXIT.unsupported, 'hold-unavailable');
      await assertExit(HOLD_EXIT.failed, 'hold-failed');
      await assertExit(HOLD_EXIT.usage, 'hold-failed');
      await assertExit(99, 'hold-failed');
    });

    it('hold-failed: timeout, killed by a signal, unexpected output', async () => {
      await rejectsWith(probeHold(fakeRunner({ timedOut: true, status: null, signal: 'SIGKILL' }), { module: 'loop', btfId: 1, timeoutMs: 50 }), 'hold-failed', /no answer after 50 ms/);
      await rejectsWith(probeHold(fakeRunner({ status: null, signal: 'SIGSEGV' }), { module: 'loop', btfId: 1 }), 'hold-failed', /signal SIGSEGV/);
      await rejectsWith(probeHold(fakeRunner({ stdout: 'hello' }), { module: 'loop', btfId: 1 }), 'hold-failed', /unexpected output 'hello'/);
    });

    it('hold-unavailable: perl cannot be started (injected ENOENT, and a real missing interpreter)', async () => {
      const missing: HoldRunner = () => Promise.reject(Object.assign(new Error('spawn perl ENOENT'), { code: 'ENOENT' }));
      await rejectsWith(probeHold(missing, { module: 'loop', btfId: 1 }), 'hold-unavailable', /cannot run perl \(ENOENT\)/);
      await rejectsWith(probeHold(perlRunner('/nonexistent/bin/perl'), { module: 'loop', btfId: 1 }), 'hold-unavailable', /ENOENT/);
    });

    it('bad-name / hold-failed / hold-pin-failed: bad arguments never reach the runner', async () => {
      const run = fakeRunner({});
      await rejectsWith(probeHold(run, { module: '../x', btfId: 1 }), 'bad-name');
      await rejectsWith(probeHold(run, { module: 'loop', btfId: 0 }), 'hold-failed', /not a type id/);
      await rejectsWith(probeHold(run, { module: 'loop', btfId: 2 ** 31 }), 'hold-failed', /not a type id/);
      await rejectsWith(holdModule(run, { module: 'loop', btfId: 1, pinPath: '/sys/fs/bpf/hold.loop' }), 'hold-pin-failed', /no dot/);
      await rejectsWith(holdModule(run, { module: 'loop', btfId: 1, pinPath: 'relative/hold' }), 'hold-pin-failed');
      assert.equal(run.calls.length, 0);
      await rejectsWith(() => holdPinPath('/sys/fs/bpf', 'a/b'), 'bad-name');
      assert.equal(holdPinPath('/sys/fs/bpf', 'kvm_intel'), '/sys/fs/bpf/btf-extra/hold-kvm_intel');
    });

    it('perlRunner kills a program that outlives its timeout', async function () {
      if (spawnSync('perl', ['-e', '0']).status !== 0) this.skip();
      const t0 = Date.now();
      const r = await perlRunner()([], 'sleep 30;', 200);
      assert.equal(r.timedOut, true);
      assert.equal(r.signal, 'SIGKILL');
      assert.ok(Date.now() - t0 < 20_000);
    });

    it('releaseHold unlinks the pin (and a leftover pending one); a missing pin is fine', () => {
      const dir = mkdtempSync(join(tmpdir(), 'btf-extra-hold-'));
      const pin = join(dir, 'hold-loop');
      writeFileSync(pin, '');
      writeFileSync(`${pin}_pending`, '');
      releaseHold(pin);
      assert.deepEqual(readdirSync(dir), []);
      releaseHold(pin);
      rmSync(dir, { recursive: true });
    });
  });

  describe('the Perl program on this host (bpf(2), vmlinux BTF only)', function () {
    this.timeout(60_000);
    const paths = hostPaths('/');
    const run = perlRunner();
    let funcOrVar: { id: number; name: string } | undefined;
    let vmlinuxHere: Btf | undefined;
    let skipReason: string | undefined;

    before(async function () {
      if (spawnSync('perl', ['-e', '0']).status !== 0) { skipReason = 'perl is not installed'; }
      else if (!existsSync(paths.sysBtf('vmlinux'))) { skipReason = 'this kernel has no vmlinux BTF'; }
      else {
        vmlinuxHere = parseBtf(readFileSync(paths.sysBtf('vmlinux')), { source: paths.sysBtf('vmlinux') });
        funcOrVar = pickHoldSymbol(vmlinuxHere, parseKallsyms(readFileSync(paths.procKallsyms, 'utf8')));
        if (funcOrVar === undefined) skipReason = 'no vmlinux VAR or FUNC listed in kallsyms';
        else {
          try { await probeHold(run, { module: 'vmlinux', btfId: funcOrVar.id }); } catch (e) {
            if (e instanceof KmodError && (e.code === 'hold-denied' || e.code === 'hold-unavailable')) skipReason = `bpf(2) not usable here: ${e.message}`;
            else throw e;
          }
        }
      }
      if (skipReason !== undefined) {
        process.stderr.write(`skipping bpf-hold kernel tests: ${skipReason}\n`);
        this.skip();
      }
    });

    it('the embedded program compiles with perl -c', () => {
      const r = spawnSync('perl', ['-c', '-'], { input: HOLD_PROGRAM, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });

    it('probe vmlinux <the chosen symbol> loads and closes the program', async () => {
      const r = await probeHold(run, { module: 'vmlinux', btfId: funcOrVar!.id });
      assert.ok(r.progId > 0);
      assert.equal(r.btfObjectId, 0);
    });

    it("hold-refused: the kernel's reason for a bogus id and for a STRUCT", async () => {
      await rejectsWith(probeHold(run, { module: 'vmlinux', btfId: vmlinuxHere!.nextId + 1000 }), 'hold-refused', /invalid btf_id/);
      const struct = vmlinuxHere!.findByName('task_struct', KIND.STRUCT)[0]!;
      await rejectsWith(probeHold(run, { module: 'vmlinux', btfId: struct }), 'hold-refused', /isn't KIND_VAR/);
    });

    it('hold-no-btf: no kernel BTF object of that name', async () => {
      await rejectsWith(probeHold(run, { module: 'btfx_no_such_module', btfId: 1 }), 'hold-no-btf', /btfx_no_such_module/);
    });

    it('hold-pin-failed: a pin outside bpffs (EPERM)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'btf-extra-hold-'));
      try {
        await rejectsWith(holdModule(run, { module: 'vmlinux', btfId: funcOrVar!.id, pinPath: join(dir, 'hold-vmlinux') }), 'hold-pin-failed', /BPF_OBJ_PIN at .*hold-vmlinux_pending failed \(EPERM\)/);
        assert.deepEqual(readdirSync(dir), []);
      } finally { rmSync(dir, { recursive: true }); }
    });

    it('hold pins in a bpffs (created dir, replaced without a gap), releaseHold unpins', async function () {
      const dir = mkdtempSync(join(tmpdir(), 'btf-extra-bpffs-'));
      const mount = spawnSync('mount', ['-t', 'bpf', 'bpf', dir], { encoding: 'utf8' });
      if (mount.status !== 0) {
        rmSync(dir, { recursive: true });
        process.stderr.write(`skipping the bpffs pin test: mount -t bpf refused (${mount.stderr.trim()})\n`);
        this.skip();
      }
      try {
        const pin = holdPinPath(dir, 'vmlinux');
        const first = await holdModule(run, { module: 'vmlinux', btfId: funcOrVar!.id, pinPath: pin });
        assert.ok(existsSync(pin));
        const second = await holdModule(run, { module: 'vmlinux', btfId: funcOrVar!.id, pinPath: pin });
        assert.notEqual(second.progId, first.progId);
        assert.deepEqual(readdirSync(join(dir, 'btf-extra')), ['hold-vmlinux']);
        releaseHold(pin);
        assert.equal(existsSync(pin), false);
      } finally {
        assert.equal(spawnSync('umount', [dir]).status, 0);
        rmSync(dir, { recursive: true });
      }
    });
  });
});
