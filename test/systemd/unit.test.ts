import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

/** key -> values of the [Service] section (comments and other sections left out). */
function serviceSection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inService = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) { inService = line === '[Service]'; continue; }
    if (!inService || line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

describe('systemd/btf-extrad.service', () => {
  const unit = serviceSection(readFileSync(join(repoRoot, 'systemd/btf-extrad.service'), 'utf8'));

  it('journal lines are tagged btf-extrad, not after the ExecStart program (seen in the VM: "env[PID]:")', () => {
    const exec = unit.get('ExecStart')?.[0] ?? '';
    assert.match(exec, /btf-extrad/);
    if (!/^[-+!@:]*\S*\/btf-extrad\b/.test(exec)) assert.deepEqual(unit.get('SyslogIdentifier'), ['btf-extrad']);
  });

  it('Type=notify with NotifyAccess=all (READY/STATUS/WATCHDOG come from systemd-notify children)', () => {
    assert.deepEqual(unit.get('Type'), ['notify']);
    assert.deepEqual(unit.get('NotifyAccess'), ['all']);
  });
});

describe('systemd/kernel-companions.conf (drop-in for destination kernel/both)', () => {
  const unit = serviceSection(readFileSync(join(repoRoot, 'systemd/btf-extrad.service'), 'utf8'));
  const dropIn = serviceSection(readFileSync(join(repoRoot, 'systemd/kernel-companions.conf'), 'utf8'));
  const words = (m: Map<string, string[]>, k: string): string[] => (m.get(k) ?? []).join(' ').split(/\s+/).filter((w) => w !== '');

  it('the unit alone stays least-privileged: no bpf syscall, no CAP_BPF/CAP_SYS_ADMIN, /sys/fs/bpf not writable', () => {
    for (const cap of ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN']) assert.ok(!words(unit, 'CapabilityBoundingSet').includes(cap), cap);
    assert.ok(!words(unit, 'SystemCallFilter').includes('bpf'));
    assert.ok(words(unit, 'CapabilityBoundingSet').includes('CAP_SYS_MODULE'), 'insmod/modprobe of companions');
  });
  it('adds exactly what the pinned-program hold needs, to lists that a drop-in extends', () => {
    assert.deepEqual(words(dropIn, 'CapabilityBoundingSet').sort(), ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN']);
    assert.deepEqual(words(dropIn, 'SystemCallFilter'), ['bpf']);
    assert.deepEqual(words(dropIn, 'ReadWritePaths'), ['-/sys/fs/bpf']);
    assert.deepEqual([...dropIn.keys()].sort(),
      ['CapabilityBoundingSet', 'InaccessiblePaths', 'ProtectKernelTunables', 'ReadOnlyPaths', 'ReadWritePaths', 'SystemCallFilter']);
  });
  it('lets the daemon read /proc/kallsyms (ProtectKernelTunables= covers it with an empty file) and keeps the rest of that protection', () => {
    assert.deepEqual(unit.get('ProtectKernelTunables'), ['yes'], 'the unit alone keeps the tunables protected');
    assert.deepEqual(dropIn.get('ProtectKernelTunables'), ['no']);
    // What systemd.exec(5) says ProtectKernelTunables=yes does, besides hiding /proc/kallsyms.
    const readOnly = words(dropIn, 'ReadOnlyPaths').map((w) => w.replace(/^-/, ''));
    for (const p of ['/sys', '/proc/sys', '/proc/sysrq-trigger', '/proc/latency_stats', '/proc/acpi', '/proc/timer_stats', '/proc/fs', '/proc/irq']) {
      assert.ok(readOnly.includes(p), `${p} read-only again`);
    }
    assert.deepEqual(words(dropIn, 'InaccessiblePaths'), ['-/proc/kcore']);
    assert.ok(![...words(dropIn, 'InaccessiblePaths'), ...words(unit, 'InaccessiblePaths')].some((w) => w.includes('kallsyms')));
  });
});
