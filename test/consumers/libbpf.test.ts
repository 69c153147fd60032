/**
 * README "which file for which tool", row libbpf: the system libbpf (Debian 12: 1.1) through
 * test/support/btf-load.c (btf__parse_split per level, btf__find_by_name_kind). Before 1.7 a
 * split level's string offsets start after its base's own strings only (btf_new), so a 3-level
 * chain reads wrong names; libbpf 1.7.0 sums them over the chain ("libbpf: Fix parsing of
 * multi-split BTF"). `btf_custom_path` takes one standalone file (btf__parse(path, NULL)).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parseBtf } from '../../src/btf/parse.js';
import { findVarWithLibbpf, libbpfVersion, requireOk, typeNameWithLibbpf } from '../support/kernel-load.js';
import { fixturePublished, requireRealPublished, type Published } from './published.js';

/** Whether the system libbpf is 1.7 or newer (reads 3-level chains). */
function from17(ctx: Mocha.Context): boolean {
  const [major = 0, minor = 0] = requireOk(ctx, libbpfVersion()).split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 7);
}

describe('consumers/libbpf', function () {
  let fx: Published;
  before(async function () { fx = await fixturePublished(); });

  it('merged/<module> on btf/vmlinux and merged/kernel: a module variable found by name', function () {
    const onVmlinux = Number(requireOk(this, findVarWithLibbpf('max_loop', fx.merged('loop'), [fx.btf('vmlinux')])));
    const inKernel = Number(requireOk(this, findVarWithLibbpf('max_loop', fx.merged('kernel'))));
    assert.ok(onVmlinux > 0 && inKernel > 0);
    assert.equal(requireOk(this, typeNameWithLibbpf(onVmlinux, fx.merged('loop'), [fx.btf('vmlinux')])), 'max_loop');
    assert.ok(Number(requireOk(this, findVarWithLibbpf('bbr_pacing_gain', fx.merged('kernel')))) > 0);
  });

  it('btf/<module>-btf-extra on btf/vmlinux -> btf/<module>: misread before 1.7, read from 1.7', function () {
    const chain = [fx.btf('vmlinux'), fx.btf('loop')];
    const extras = parseBtf(readFileSync(fx.extras('loop')), { base: parseBtf(readFileSync(fx.btf('loop')), { base: parseBtf(readFileSync(fx.btf('vmlinux'))) }) });
    const firstId = extras.startId;
    const ours = extras.nameOf(firstId);
    const found = findVarWithLibbpf('max_loop', fx.extras('loop'), chain);
    const name = requireOk(this, typeNameWithLibbpf(firstId, fx.extras('loop'), chain));
    if (from17(this)) {
      assert.ok(found.ok, JSON.stringify(found));
      assert.equal(name, ours);
    } else {
      // libbpf 1.1 parses the chain but its name offsets land past the string table: no name resolves.
      assert.ok(!found.ok && 'error' in found && /find: .*No such file/.test(found.error), JSON.stringify(found));
      assert.equal(name, '(null)');
    }
  });

  describe('real vmlinux extras (../shared)', function () {
    let real: Published;
    before(async function () { real = await requireRealPublished(this); });

    it('merged/vmlinux, merged/kernel and btf/vmlinux-btf-extra on btf/vmlinux (2 levels, any version): init_net, jiffies_64', function () {
      for (const [file, bases] of [[real.merged('vmlinux'), []], [real.merged('kernel'), []], [real.extras('vmlinux'), [real.btf('vmlinux')]]] as const) {
        for (const name of ['init_net', 'jiffies_64', 'nr_cpu_ids']) {
          const id = Number(requireOk(this, findVarWithLibbpf(name, file, bases)));
          assert.equal(requireOk(this, typeNameWithLibbpf(id, file, bases)), name, `${name} in ${file}`);
        }
      }
    });
  });
});
