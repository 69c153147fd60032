/**
 * Test harness for the daemon core: an injected root from the committed fixtures, a fake encoder
 * (records calls; output is recognisable text), fake BTF ops that accept only that text, and the
 * uevent stream of the root as the module watcher.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Daemon, type DaemonDeps } from '../../src/daemon/core.js';
import { fileStores } from '../../src/daemon/stores.js';
import { DEFAULT_CONFIG, loadConfig, validateConfig, type LoadedConfig } from '../../src/daemon/config.js';
import type { BtfOps } from '../../src/daemon/btf-ops.js';
import type { EncodeRequest, ExtrasEncoder } from '../../src/daemon/encoder.js';
import { EncodeFailed } from '../../src/daemon/encoder.js';
import { createLogger, memoryStream } from '../../src/daemon/logger.js';
import { UeventWatcher, streamSource } from '../../src/daemon/watch/uevent.js';
import { fsHostReader } from '../../src/host/reader.js';
import { readElfBuildId } from '../../src/host/elf-build-id.js';
import { InjectedRoot, committedFixtures, type FixtureSet } from '../../src/demo/root.js';

let fixtures: FixtureSet | undefined;
export function fixtureSet(): FixtureSet { return (fixtures ??= committedFixtures()); }

export class FakeEncoder implements ExtrasEncoder {
  readonly calls: EncodeRequest[] = [];
  failFor = new Set<string>();
  delayMs = 0;
  /** Jobs running now, and the most that ever ran at once (jobs.concurrency). */
  inFlight = 0;
  maxInFlight = 0;
  async encode(req: EncodeRequest): Promise<Uint8Array> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try { return await this.run(req); } finally { this.inFlight--; }
  }
  private async run(req: EncodeRequest): Promise<Uint8Array> {
    this.calls.push(req);
    if (this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.delayMs);
        req.signal?.addEventListener('abort', () => { clearTimeout(t); reject(new EncodeFailed('aborted', 'aborted')); }, { once: true });
      });
    }
    const base = req.debugFile.split('/').pop() ?? '';
    if ([...this.failFor].some((f) => base.startsWith(f))) throw new EncodeFailed(`${base}: .debug_info +0x10: bad DWARF`, 'invalid-dwarf');
    return Buffer.from(`FAKE-EXTRAS ${base} bases=${req.bases.length} vars=${req.vars}`);
  }
  names(): string[] { return this.calls.map((c) => c.debugFile.split('/').pop() ?? ''); }
}

const txt = (b: Uint8Array): string => Buffer.from(b.subarray(0, 64)).toString('latin1');
export const fakeOps: BtfOps = {
  inspect(extras) {
    const t = txt(extras);
    if (!t.startsWith('FAKE-EXTRAS') && !t.startsWith('KERNEL-EXTRAS')) throw new Error('bad magic');
    return { vars: 3 };
  },
  canMerge: true,
  flattenOnto: (chain) => Buffer.from(`onto ${chain.map((c) => c.length).join(' ')}`),
  flattenStandalone: (chain) => Buffer.from(`standalone ${chain.map((c) => c.length).join(' ')}`),
  kernelPart: (base, chain, name) => Buffer.from(`part ${name} ${base.length} ${chain.length}`),
  joinKernel: (base, parts) => Buffer.from(`kernel ${base.length} ${parts.length}`),
};

export interface Harness {
  readonly root: InjectedRoot;
  readonly daemon: Daemon;
  readonly encoder: FakeEncoder;
  readonly logLines: string[];
  readonly modprobed: string[];
}

export function newRoot(): InjectedRoot {
  return InjectedRoot.create(mkdtempSync(join(tmpdir(), 'btfx-root-')), fixtureSet());
}

export function writeConfig(root: InjectedRoot, yaml: string): void {
  mkdirSync(dirname(root.paths.defaultConfigFile), { recursive: true });
  writeFileSync(root.paths.defaultConfigFile, yaml);
}

export async function startDaemon(root: InjectedRoot, over: Partial<DaemonDeps> & { encoder?: ExtrasEncoder; config?: unknown } = {}, opts: { settle?: boolean } = {}): Promise<Harness> {
  const { stream, lines } = memoryStream();
  const host = fsHostReader(root.paths);
  const file = root.paths.defaultConfigFile;
  const loaded: LoadedConfig = over.config !== undefined ? { config: validateConfig(over.config, 'test'), file: undefined } : await loadConfig(file, false);
  const encoder = (over.encoder ?? new FakeEncoder()) as FakeEncoder;
  const modprobed: string[] = [];
  const daemon = new Daemon({
    host, loaded,
    stores: fileStores,
    loadConfig: () => loadConfig(file, false),
    encoder,
    btf: fakeOps,
    logger: createLogger('human', { stream, level: 'debug' }),
    version: 'test',
    encoderVersion: 'enc-1',
    readBuildId: readElfBuildId,
    watchers: () => [new UeventWatcher(streamSource(root.uevents), 10)],
    modprobe: async (m) => { modprobed.push(m); throw new Error('modprobe: FATAL: Module not found'); },
    kernelRebuildDelayMs: 20,
    ...over,
  });
  await daemon.start();
  if (opts.settle !== false) await daemon.settle();
  return { root, daemon, encoder, logLines: lines, modprobed };
}

export async function waitFor(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function stateOf(d: Daemon, name: string): string | undefined {
  return d.status().objects.find((o) => o.name === name)?.state;
}

export { DEFAULT_CONFIG };
