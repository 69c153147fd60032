/**
 * README "which file for which tool", row bpftrace (0.17, Debian 12): BPFTRACE_BTF replaces all
 * kernel BTF with one file read as standalone, so only merged/vmlinux and merged/kernel work;
 * any split file crashes it. bpftrace 0.17 uses BTF for types only (casts, struct listings,
 * kfunc arguments), never for variables (kernel variables come from kallsyms through kaddr()).
 * Only `bpftrace -lv 'struct NAME'` is run: it reads BTF and loads nothing into the kernel.
 */
import { strict as assert } from 'node:assert';
import { fixturePublished, requireRealPublished, type Published } from './published.js';
import { runTool, type ToolRun } from './tools.js';

function listStruct(ctx: Mocha.Context, btfFile: string, struct: string): ToolRun {
  const r = runTool(ctx, 'bpftrace', ['-lv', `struct ${struct}`], { BPFTRACE_BTF: btfFile });
  if (/root/.test(r.stderr) && r.status !== 0) {
    process.stderr.write(`skipping: bpftrace needs root: ${r.stderr.trim()}\n`);
    ctx.skip();
  }
  return r;
}

/** `bpftrace -lv 'struct NAME'` with BPFTRACE_BTF=FILE succeeds; its output. */
function structText(ctx: Mocha.Context, btfFile: string, struct: string): string {
  const r = listStruct(ctx, btfFile, struct);
  assert.equal(r.status, 0, `${btfFile}: ${r.signal ?? ''} ${r.stderr}`);
  return r.stdout;
}

describe('consumers/bpftrace', function () {
  let fx: Published;
  let version = '';
  before(async function () {
    fx = await fixturePublished();
    version = runTool(this, 'bpftrace', ['--version']).stdout.trim();
  });

  it('BPFTRACE_BTF=merged/kernel: a module\'s struct; BPFTRACE_BTF=btf/vmlinux lacks it (the file replaces kernel BTF)', function () {
    assert.match(structText(this, fx.merged('kernel'), 'bbr'), /^struct bbr \{\n\tu32 min_rtt_us;/m);
    assert.doesNotMatch(structText(this, fx.btf('vmlinux'), 'bbr'), /struct bbr/);
  });

  it('split files (btf/<module>, btf/<module>-btf-extra, merged/<module>) are not usable: it crashes', function () {
    for (const file of [fx.btf('loop'), fx.extras('loop'), fx.merged('loop')]) {
      const r = listStruct(this, file, 'loop_device');
      assert.doesNotMatch(r.stdout, /struct loop_device/, file);
      assert.ok(r.status !== 0 || r.signal !== null, `${file}: ${r.status} ${r.signal}`);
      if (/v0\.17\./.test(version)) assert.equal(r.signal, 'SIGSEGV', file);
    }
  });

  describe('real vmlinux extras (../shared)', function () {
    let real: Published;
    before(async function () { real = await requireRealPublished(this); });

    it('BPFTRACE_BTF=merged/vmlinux and merged/kernel load (struct net, struct bbr); btf/vmlinux-btf-extra does not', function () {
      assert.match(structText(this, real.merged('vmlinux'), 'net'), /^struct net \{\n\trefcount_t passive;/m);
      assert.match(structText(this, real.merged('kernel'), 'bbr'), /^struct bbr \{/m);
      const split = listStruct(this, real.extras('vmlinux'), 'net');
      assert.ok(split.status !== 0 || split.signal !== null, 'btf/vmlinux-btf-extra is split too');
      assert.doesNotMatch(split.stdout, /struct net/);
    });
  });
});
