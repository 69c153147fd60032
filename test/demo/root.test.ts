/**
 * The injected root used by tests, benchmarks and the demo: loads and unloads show the kernel's
 * files the way the kernel does, and the kernel-side files change in one step (a daemon in
 * another process polling them never sees a truncated /proc/modules).
 */
import { strict as assert } from 'node:assert';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InjectedRoot, committedFixtures } from '../../src/demo/root.js';

describe('demo/root (injected root)', () => {
  const newRoot = (): InjectedRoot => InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-demo-root-')), committedFixtures());

  it('a load writes the BTF, the build-id note and a /proc/modules line, and feeds a uevent block', () => {
    const root = newRoot();
    const block = root.load('loop');
    assert.ok(existsSync(root.paths.sysBtf('loop')));
    assert.ok(existsSync(root.paths.moduleBuildIdNote('loop')));
    assert.match(readFileSync(root.paths.procModules, 'utf8'), /^loop \d+ 0 - Live 0x[0-9a-f]+\n$/);
    assert.match(block, /^KERNEL\[[\d.]+\] add +\/module\/loop \(module\)\nACTION=add\nDEVPATH=\/module\/loop\nSUBSYSTEM=module\nSEQNUM=\d+\n\n$/);
    root.unload('loop');
    assert.equal(readFileSync(root.paths.procModules, 'utf8'), '');
    assert.ok(!existsSync(root.paths.sysBtf('loop')));
  });

  it('lists vmlinux per-CPU variables in proc/kallsyms, as x86_64 shows them to a daemon without CAP_SYSLOG', () => {
    const root = newRoot();
    const lines = readFileSync(root.paths.procKallsyms, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length > 100, `${lines.length} lines`);
    assert.ok(lines.every((l) => /^[0-9a-f]{16} A \w+$/.test(l)), lines.find((l) => !/^[0-9a-f]{16} A \w+$/.test(l)));
    assert.ok(lines.includes('0000000000000000 A fixed_percpu_data') || lines.some((l) => l.endsWith(' A cpu_loops_per_jiffy')));
  });

  it('replaces /proc/modules and sysfs files in one step: an open reader keeps the old whole file', () => {
    const root = newRoot();
    root.load('loop');
    const before = readFileSync(root.paths.procModules, 'utf8');
    const inode = statSync(root.paths.procModules).ino;
    const fd = openSync(root.paths.procModules, 'r');
    try {
      root.load('crc7');
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, 0);
      assert.equal(buf.subarray(0, n).toString('utf8'), before, 'the old file is intact, not truncated');
    } finally { closeSync(fd); }
    assert.notEqual(statSync(root.paths.procModules).ino, inode, 'a new file was renamed into place');
    assert.equal(readFileSync(root.paths.procModules, 'utf8').split('\n').filter(Boolean).length, 2);
    // No temporary file is ever visible beside the kernel's files.
    assert.deepEqual(readdirSync(root.paths.sysBtfDir).sort(), ['crc7', 'loop', 'vmlinux']);
    assert.deepEqual(readdirSync(join(root.dir, 'proc')).sort(), ['kallsyms', 'modules', 'sys']);
  });
});
