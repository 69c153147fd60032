/**
 * README "which file for which tool", row drgn (Debian 12: python3-drgn 0.0.22): drgn reads types
 * and variables from DWARF only (libdwfl: vmlinux and .ko debug files), never BTF: a raw BTF file
 * is "not an ELF file", an ELF whose only debug data is .BTF has "No DWARF information". So none of
 * the published files helps drgn; the DWARF the extras are made from already gives it every
 * variable. (Upstream drgn has no BTF reader either: DWARF-less debugging, osandov/drgn#176, is
 * open.)
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fixture } from '../support/paths.js';
import { fixturePublished, type Published } from './published.js';
import { runOk, runTool } from './tools.js';

const PYTHON = '/usr/bin/python3';

/** Loads each file with Program.load_debug_info and prints "FILE: ok" or "FILE: ErrorClass: message" (one line). */
const LOAD = `
import sys, drgn
for path in sys.argv[1:]:
    prog = drgn.Program(drgn.host_platform)
    try:
        prog.load_debug_info([path])
        print(path + ": ok " + str(prog.type("struct loop_device").size) + " " + str(prog.object("max_loop").type_))
    except Exception as e:
        print(path + ": " + type(e).__name__ + ": " + " ".join(str(e).split()))
`;

function load(ctx: Mocha.Context, files: readonly string[]): Map<string, string> {
  const r = runTool(ctx, PYTHON, ['-c', LOAD, ...files]);
  if (/ModuleNotFoundError: No module named 'drgn'/.test(r.stderr)) {
    process.stderr.write('skipping: drgn is not installed (apt-get install python3-drgn)\n');
    ctx.skip();
  }
  assert.equal(r.status, 0, r.stderr);
  return new Map(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
}

describe('consumers/drgn', function () {
  let fx: Published;
  before(async function () { fx = await fixturePublished(); });

  it('reads struct loop_device and max_loop from loop.ko\'s DWARF', function () {
    const ko = fixture('kernel/debug/loop.ko');
    assert.equal(load(this, [ko]).get(ko), 'ok 480 int');
  });

  it('reads none of the published BTF files, nor an ELF whose only debug data is .BTF', function () {
    const files = [fx.btf('vmlinux'), fx.btf('loop'), fx.extras('loop'), fx.merged('loop'), fx.merged('kernel')];
    const got = load(this, files);
    for (const f of files) assert.equal(got.get(f), `MissingDebugInfoError: could not get debugging information for: ${f} (not an ELF file)`);
    const btfOnly = join(tmpdir(), 'loop-btf-only.o');
    runOk(this, 'objcopy', ['--only-section=.BTF', fixture('kernel/debug/loop.ko'), btfOnly]);
    assert.match(load(this, [btfOnly]).get(btfOnly) ?? '', /^MissingDebugInfoError: .*No DWARF information found/);
  });
});
