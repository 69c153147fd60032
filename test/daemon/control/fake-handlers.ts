// Fake ControlHandlers for the control server and CLI tests: canned answers plus a record of calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlHandlers, DaemonStatus, LookupHit, ObjectStatus } from '../../../src/daemon/api.js';

export const fakeObjects: readonly ObjectStatus[] = [
  { name: 'vmlinux', state: 'published', policy: 'always', source: 'cache', buildId: 'aa11', vars: 34825, bytes: 1_250_000, since: '2026-01-01T00:00:00.000Z' },
  { name: 'loop', state: 'published', policy: 'always', source: 'encoder', buildId: '88465abd0d48756ce17aea6e15c1c03a65059850', vars: 12, bytes: 2048, since: '2026-01-01T00:00:01.000Z' },
  {
    name: 'kvm', state: 'no-debuginfo', policy: 'always', reason: 'no debug file with build id 1234',
    hint: 'apt-get install linux-image-6.1.0-56-cloud-amd64-dbg', since: '2026-01-01T00:00:02.000Z',
  },
  { name: 'crc7', state: 'failed', policy: 'always', reason: 'encoder: bad DWARF', since: '2026-01-01T00:00:03.000Z' },
  { name: 'tcp_bbr', state: 'skipped', policy: 'never', since: '2026-01-01T00:00:04.000Z' },
];

export const fakeStatus: DaemonStatus = {
  version: '0.1.0', pid: 4242, root: '/', kernelRelease: '6.1.0-56-cloud-amd64',
  startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:05.000Z',
  published: { runtime: '/run/btf-extra', kernel: '/run/btf-extra/merged/kernel' },
  objects: fakeObjects,
};

export const fakeHits: readonly LookupHit[] = [
  { variable: 'max_loop', object: 'loop', cType: 'int', section: '.data', offset: 16, size: 4, linkage: 'static', btfId: 120001 },
];

export interface FakeCalls {
  status: number;
  regen: Array<{ readonly names: readonly string[] } | { readonly all: true }>;
  lookup: string[];
  reload: number;
  release: string[][];
}

export function fakeHandlers(over: Partial<ControlHandlers> = {}): { handlers: ControlHandlers; calls: FakeCalls } {
  const calls: FakeCalls = { status: 0, regen: [], lookup: [], reload: 0, release: [] };
  const handlers: ControlHandlers = {
    status: () => { calls.status += 1; return fakeStatus; },
    regen: async (t) => {
      calls.regen.push(t);
      const names = 'all' in t ? fakeObjects.map((o) => o.name) : t.names;
      return fakeObjects.filter((o) => names.includes(o.name)).map((o) => ({ ...o, state: 'published' as const }));
    },
    lookup: async (v) => { calls.lookup.push(v); return fakeHits.filter((h) => h.variable === v); },
    release: async (names) => {
      calls.release.push([...names]);
      return fakeObjects.filter((o) => names.includes(o.name)).map((o) => ({ ...o, kernel: { state: 'released' as const, module: `${o.name}_btf_extra` } }));
    },
    reload: async () => { calls.reload += 1; },
    ...over,
  };
  return { handlers, calls };
}

/** A private temp dir (short path: unix socket paths are limited to 107 bytes). */
export function tempDir(tag: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `bx-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
