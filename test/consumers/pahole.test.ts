/**
 * README "which file for which tool", row pahole (dwarves 1.24): pahole prints types, from
 * merged/<module> with `--btf_base btf/vmlinux` (one base level only) or from the standalone
 * merged files; it prints no variables. pdwtags, from the same package, prints the variables,
 * but takes no base: standalone merged/vmlinux and merged/kernel only.
 */
import { strict as assert } from 'node:assert';
import { fixturePublished, requireRealPublished, type Published } from './published.js';
import { runOk, runTool } from './tools.js';

describe('consumers/pahole', function () {
  let fx: Published;
  before(async function () { fx = await fixturePublished(); });

  it('pahole -F btf --btf_base btf/vmlinux merged/<module> -C STRUCT, and merged/kernel -C STRUCT', function () {
    const loop = runOk(this, 'pahole', ['-F', 'btf', '--btf_base', fx.btf('vmlinux'), fx.merged('loop'), '-C', 'loop_device']);
    assert.match(loop, /^struct loop_device \{\n\tint +lo_number; +\/\* +0 +4 \*\//m);
    assert.match(loop, /size: 480,/);
    assert.match(runOk(this, 'pahole', ['-F', 'btf', fx.merged('kernel'), '-C', 'bbr']), /^struct bbr \{\n\tu32 +min_rtt_us;/m);
  });

  it('pdwtags -F btf merged/kernel: module variables with their C types', function () {
    const out = runOk(this, 'pdwtags', ['-F', 'btf', fx.merged('kernel')]);
    assert.match(out, /^int +max_loop; \/\* size: 4 \*\//m);
    assert.match(out, /^const const int +bbr_pacing_gain\[8\]; \/\* size: 32 \*\//m);
  });

  it('the 3-level btf/<module>-btf-extra is refused; pdwtags refuses split files', function () {
    const r = runTool(this, 'pahole', ['-F', 'btf', '--btf_base', fx.btf('loop'), fx.extras('loop')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Failed to parse base BTF/);
    const p = runTool(this, 'pdwtags', ['-F', 'btf', fx.merged('loop')]);
    assert.notEqual(p.status, 0);
    assert.doesNotMatch(p.stdout, /max_loop/);
  });

  describe('real vmlinux extras (../shared)', function () {
    let real: Published;
    before(async function () { real = await requireRealPublished(this); });

    it('pdwtags -F btf merged/vmlinux: init_net, jiffies_64, nr_cpu_ids', function () {
      const out = runOk(this, 'pdwtags', ['-F', 'btf', real.merged('vmlinux')]);
      assert.match(out, /^struct net +init_net; \/\* size: \d+ \*\//m);
      assert.match(out, /^u64 +jiffies_64; \/\* size: 8 \*\//m);
      assert.match(out, /^unsigned int +nr_cpu_ids; \/\* size: 4 \*\//m);
    });
  });
});
