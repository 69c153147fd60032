/**
 * `btf-extra companion` in-process: writes the module and says how it holds its base (or why it
 * cannot), usage errors exit 2, input errors exit 1 with one line and leave OUT untouched.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/btf-extra.js';
import { companionCommand } from '../../src/cli/commands/companion.js';
import { KmodError } from '../../src/kmod/errors.js';
import { ElfFile } from '../../src/elf/index.js';
import { captureIo } from '../support/cli-io.js';
import { fixture } from '../support/paths.js';
import { crc7Inputs, loopInputs, tmp, vmlinuxExtras } from '../kmod/support.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await main(['companion', ...argv], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('btf-extra companion', () => {
  const loopKo = fixture('kernel/debug/loop.ko');

  it('writes NAME_btf_extra for a module; loop (no export) is held by a pinned program, which only the daemon sets up', async () => {
    const i = loopInputs();
    const out = join(tmp, 'cli-loop.ko');
    const r = await run('loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', loopKo, '-o', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /module loop_btf_extra, 4 variables/);
    assert.match(r.out, /hold: a pinned BPF program naming VAR \w+ through loop's BTF holds loop/);
    assert.match(r.out, /note: this file alone does not hold the base: btf-extrad pins that program/);
    assert.equal(ElfFile.open(out).requireSection('.gnu.linkonce.this_module').size, 896);
  });

  it('reports the import that holds crc7, and writes vmlinux_btf_extra', async () => {
    const c = crc7Inputs();
    const r = await run('crc7', '--btf', c.vm, '--btf', c.mod, '--extras', c.extras, '--ko', c.ko, '-o', join(tmp, 'cli-crc7.ko'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /hold: imports crc7_be from crc7: rmmod crc7 is refused while the companion is loaded/);
    const v = await run('vmlinux', '--btf', fixture('kernel/btf/vmlinux.gz'), '--extras', vmlinuxExtras(), '--ko', loopKo, '-o', join(tmp, 'cli-vmlinux.ko'));
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /module vmlinux_btf_extra, 1 variables/);
    assert.match(v.out, /hold: vmlinux never unloads/);
  });

  it('--kallsyms leaves out variables the kernel would resolve to another symbol; an unreadable one is bad-kallsyms', async () => {
    const i = loopInputs();
    const kallsyms = join(tmp, 'kallsyms');
    writeFileSync(kallsyms, 'ffffffff82b00010 d extra_counter\nffffffffc0a01000 d extra_list\t[crc7]\n');
    const r = await run('loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', loopKo, '-o', join(tmp, 'cli-ks.ko'), '--kallsyms', kallsyms);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /module loop_btf_extra, 2 variables/);
    assert.match(r.out, /left out: 2 variables .* \(0 duplicate names in EXTRAS, 2 ambiguous in kallsyms\)/);
    const bad = await run('loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', loopKo, '-o', join(tmp, 'cli-ks2.ko'), '--kallsyms', join(tmp, 'no-such-kallsyms'));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /no-such-kallsyms: cannot read/);
    await assert.rejects(companionCommand.run(['loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', loopKo, '-o', join(tmp, 'x.ko'),
      '--kallsyms', join(tmp, 'no-such-kallsyms')], captureIo()), (e: unknown) => e instanceof KmodError && e.code === 'bad-kallsyms');
    const fifo = join(tmp, 'kallsyms-fifo');
    rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(companionCommand.run(['loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', loopKo, '-o', join(tmp, 'x.ko'),
      '--kallsyms', fifo], captureIo()), (e: unknown) => e instanceof KmodError && e.code === 'bad-kallsyms' && /FIFO/.test(e.message));
  });

  it('usage errors exit 2', async () => {
    const i = loopInputs();
    for (const [argv, msg] of [
      [[], /exactly one NAME/],
      [['loop', '--extras', i.extras, '--ko', loopKo, '-o', 'x'], /missing --btf/],
      [['loop', '--btf', i.vm, '--ko', loopKo, '-o', 'x'], /missing --extras/],
      [['loop', '--btf', i.vm, '--extras', i.extras, '-o', 'x'], /missing --ko/],
      [['loop', '--btf', i.vm, '--extras', i.extras, '--ko', loopKo], /missing -o/],
      [['loop', '--btf', i.vm, '--extras', i.extras, '--ko', loopKo, '-o', 'x', '--sign-key', 'k'], /go together/],
      [['loop', '--bogus'], /bogus/],
    ] as const) {
      const r = await run(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.out}`);
      assert.match(r.err, msg);
    }
  });

  it('an input error exits 1 with one line and leaves an existing OUT as it was', async () => {
    const i = loopInputs();
    const out = join(tmp, 'cli-kept.ko');
    writeFileSync(out, 'previous');
    const r = await run('loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', fixture('kernel/btf/loop'), '-o', out);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, /btf-extra companion: .*kernel\/btf\/loop/);
    assert.equal(readFileSync(out, 'utf8'), 'previous');
    const wrongKo = await run('loop', '--btf', i.vm, '--btf', i.mod, '--extras', i.extras, '--ko', fixture('kernel/debug/crc7.ko'), '-o', join(tmp, 'cli-wrong.ko'));
    assert.equal(wrongKo.code, 1);
    assert.match(wrongKo.err, /the installed module is crc7, not loop/);
    assert.ok(!existsSync(join(tmp, 'cli-wrong.ko')));
  });
});
