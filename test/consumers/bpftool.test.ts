/**
 * README "which file for which tool", row bpftool (7.1, Debian 12, libbpf 1.1): `-B` takes one
 * standalone base, so merged/<module> -B btf/vmlinux, merged/vmlinux, merged/kernel and
 * btf/vmlinux-btf-extra -B btf/vmlinux work; the 3-level btf/<module>-btf-extra does not.
 */
import { strict as assert } from 'node:assert';
import { fixturePublished, requireRealPublished, type Published } from './published.js';
import { runOk, runTool } from './tools.js';

/** Names of the VARs in a raw dump. */
function vars(dump: string): Set<string> {
  return new Set([...dump.matchAll(/^\[\d+\] VAR '([^']+)'/gm)].map((m) => m[1]!));
}

describe('consumers/bpftool', function () {
  let fx: Published;
  before(async function () { fx = await fixturePublished(); });

  it('merged/<module> -B btf/vmlinux: the module\'s variables by name', function () {
    const v = vars(runOk(this, 'bpftool', ['btf', 'dump', 'file', fx.merged('loop'), '-B', fx.btf('vmlinux')]));
    for (const name of ['max_loop', 'max_part', 'loop_misc']) assert.ok(v.has(name), name);
    assert.ok(vars(runOk(this, 'bpftool', ['btf', 'dump', 'file', fx.merged('tcp_bbr'), '-B', fx.btf('vmlinux')])).has('bbr_pacing_gain'));
  });

  it('merged/kernel (standalone): every module\'s variables', function () {
    const v = vars(runOk(this, 'bpftool', ['btf', 'dump', 'file', fx.merged('kernel')]));
    for (const name of ['max_loop', 'bbr_pacing_gain']) assert.ok(v.has(name), name);
  });

  it('btf/<module>-btf-extra (3 levels): refused with -B btf/<module>, garbage names with -B btf/vmlinux', function () {
    const r = runTool(this, 'bpftool', ['btf', 'dump', 'file', fx.extras('loop'), '-B', fx.btf('loop')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /failed to parse base BTF/);
    // One level too low: the ids and names point into the wrong level.
    const wrong = runOk(this, 'bpftool', ['btf', 'dump', 'file', fx.extras('loop'), '-B', fx.btf('vmlinux')]);
    assert.ok(!vars(wrong).has('max_loop'));
    assert.match(wrong, /VAR '\(invalid\)'/);
  });

  describe('real vmlinux extras (../shared)', function () {
    let real: Published;
    before(async function () { real = await requireRealPublished(this); });

    it('merged/vmlinux and btf/vmlinux-btf-extra -B btf/vmlinux: init_net, jiffies_64, nr_cpu_ids', function () {
      for (const args of [[real.merged('vmlinux')], [real.extras('vmlinux'), '-B', real.btf('vmlinux')], [real.merged('kernel')]]) {
        const v = vars(runOk(this, 'bpftool', ['btf', 'dump', 'file', ...args]));
        for (const name of ['init_net', 'jiffies_64', 'nr_cpu_ids']) assert.ok(v.has(name), `${name} in ${args.join(' ')}`);
      }
    });
  });
});
