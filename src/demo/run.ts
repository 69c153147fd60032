/**
 * `btf-extrad --demo` (`npm start`): a demo root from the committed fixtures (real Debian 6.1
 * modules), the daemon on it with the control socket up, a short script of module loads and an
 * unload fed as uevents, then it stays up until SIGTERM/Ctrl-C so `btf-extra status`, `lookup`
 * and `regen` can be tried against it. The cache under the demo dir survives runs.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import type { Daemon } from '../daemon/core.js';
import type { DaemonLogger } from '../daemon/logger.js';
import { InjectedRoot, committedFixtures } from './root.js';

interface ControlLike { close(): Promise<void> }

export interface DemoOptions {
  readonly dir: string;
  readonly logger: DaemonLogger;
  readonly createDaemon: (s: { root: string; logger: DaemonLogger; ueventStream: Readable }) => Promise<Daemon>;
  readonly startControl: (d: Daemon) => Promise<ControlLike>;
  readonly untilSignal: (d: Daemon) => Promise<string>;
  /** Stop after the script instead of waiting for a signal (tests). */
  readonly exitAfterScript?: boolean;
}

export const DEMO_CONFIG = `# Demo configuration (see config/btf-extra.yaml for every key).
policy:
  default: always
  rules:
    - match: "virtio*"
      policy: on-demand
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runDemo(o: DemoOptions): Promise<number> {
  // Fresh kernel state each run; the cache (var/cache) is kept so a second run shows cache hits.
  for (const d of ['proc', 'sys', 'run', 'usr', 'lib', 'etc']) rmSync(join(o.dir, d), { recursive: true, force: true });
  const root = InjectedRoot.create(o.dir, committedFixtures());
  mkdirSync(dirname(root.paths.defaultConfigFile), { recursive: true });
  writeFileSync(root.paths.defaultConfigFile, DEMO_CONFIG);
  const out = (s: string): void => { process.stdout.write(s); };
  out(`demo root: ${o.dir} (kernel ${root.fixtures.release})\n`);

  const daemon = await o.createDaemon({ root: o.dir, logger: o.logger, ueventStream: root.uevents });
  await daemon.start();
  const control = await o.startControl(daemon);

  for (const m of ['loop', 'tcp_bbr', 'crc7', 'cordic', 'virtio_net']) {
    out(`demo: load ${m}\n`);
    root.load(m);
    await sleep(300);
  }
  await daemon.settle();
  out('demo: unload crc7\n');
  root.unload('crc7');
  await sleep(300);
  await daemon.settle();
  await daemon.flushKernel();

  const cli = relative(process.cwd(), join(dirname(new URL(import.meta.url).pathname), '../cli/btf-extra.js')) || 'btf-extra';
  const relDir = relative(process.cwd(), o.dir);
  const rel = relDir === '' ? '.' : relDir.startsWith('..') ? o.dir : relDir;
  out(`
demo: daemon running (pid ${process.pid}); ${daemon.statusLine()}
  control socket: ${daemon.controlSocket}
  published:      ${daemon.runtimeDir}/{btf,merged,status.json}
try:
  node ${cli} status --root ${rel}
  node ${cli} lookup --root ${rel} max_loop
  node ${cli} regen --root ${rel} virtio_net     (on-demand; no debuginfo in the demo)
  bpftool btf dump file ${join(rel, 'run/btf-extra/merged/loop')} -B ${join(rel, 'run/btf-extra/btf/vmlinux')} | grep -w VAR
Ctrl-C (SIGTERM) stops it.
`);
  if (!o.exitAfterScript) o.logger.info(`${await o.untilSignal(daemon)}: stopping`);
  await control.close();
  await daemon.stop();
  o.logger.info('stopped');
  await o.logger.close();
  return 0;
}
