/**
 * Generated companion modules in the running kernel (destination kernel or both): build one from
 * an object's published extras (src/kmod, validated in full before a byte is written), keep its
 * base module loaded while it is, insert it, take it out again. Every decision (when to insert,
 * when to remove) is plan()'s; this is the I/O of those steps. The kernel is reached only through
 * the injected KernelPort (insmod/rmmod/bpf), built in the entry point.
 *
 * What holds the base (hazard 1, docs/kmod.md), first that applies:
 *   vmlinux                      never unloads;
 *   a module with an export      the companion imports it: the loader records the dependency;
 *   any module with a function   a pinned BPF program references one of its BTF functions: the
 *                                verifier takes a reference on the module for the program's life;
 *   otherwise                    not inserted (status says why; the files stay published).
 * Removal is always the companion first, then the hold.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostReader } from '../host/reader.js';
import { holdPinPath } from '../kmod/bpf-hold.js';
import { COMPANION_SUFFIX, companionName } from '../kmod/companion.js';
import { describeHold } from '../kmod/safety.js';
import { loadSigningIdentity, signModule } from '../kmod/sign.js';
import type { CompanionBuilder } from './companion-worker.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFileSync } from '../util/safe-file.js';
import type { CompanionStatus } from './api.js';
import type { FailureCode } from './failure.js';

/** What the daemon asks of the kernel; the real one runs insmod/rmmod and the bpf(2) helper. */
export interface KernelPort {
  insmod(file: string): Promise<void>;
  rmmod(module: string): Promise<void>;
  /** Load a program referencing type `btfId` (a VAR) through `module`'s BTF object, and pin it at `pinPath`. */
  hold(module: string, btfId: number, pinPath: string): Promise<void>;
  /** Unpin (drop the hold); a missing pin is fine. Only while the base is loaded (see dropHold). */
  unhold(pinPath: string): Promise<void>;
}

export interface CompanionInputs {
  readonly vmlinux: Uint8Array;
  readonly objectBtf: Uint8Array;
  readonly extras: Uint8Array;
}

export type CompanionOutcome =
  | { readonly state: 'loaded'; readonly module: string; readonly btf: string; readonly hold: string; readonly variables: number }
  | { readonly state: 'not-loaded'; readonly module: string; readonly code: FailureCode; readonly reason: string; readonly hint?: string };

export interface CompanionsOptions {
  readonly host: HostReader;
  readonly cacheDir: string;
  readonly release: string;
  readonly port: KernelPort | undefined;
  /** Host-absolute key and certificate (config companions.signKey/signCert), or null. */
  readonly signKey: string | null;
  readonly signCert: string | null;
  readonly builder: CompanionBuilder;
  /** Waits (tests pass a fake); the kernel drops a released hold after an RCU grace period. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 400);

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class Companions {
  constructor(private readonly o: CompanionsOptions) {}

  /** Where the built module is kept (cache dir, per kernel release): insmod reads it from there. */
  storedPath(name: string): string {
    return join(this.o.cacheDir, 'companions', this.o.release, `${companionName(name)}.ko`);
  }

  private digestPath(name: string): string { return `${this.storedPath(name)}.btf-sha256`; }

  pinPath(name: string): string { return holdPinPath(this.o.host.paths.bpffsDir, name); }

  /** Whether the companion loaded now is the one we built (its BTF is the one we stored). */
  isOurs(name: string): boolean {
    let want: string;
    try { want = readRegularFileSync(this.digestPath(name), { maxBytes: 128 }).toString('utf8').trim(); } catch { return false; }
    const loaded = this.o.host.readBtf(`${name}${COMPANION_SUFFIX}`);
    return loaded !== undefined && sha256(loaded) === want;
  }

  /** The installed .ko that gives vermagic and CRCs: the base's own, for vmlinux the first installed one. */
  private installedKo(name: string): string | undefined {
    const dep = this.o.host.modulePaths(this.o.release);
    const rel = name === 'vmlinux' ? [...dep.values()].sort()[0] : dep.get(name);
    return rel === undefined ? undefined : join(this.o.host.paths.moduleTree(this.o.release), rel);
  }

  async insert(name: string, inputs: CompanionInputs, sign: boolean): Promise<CompanionOutcome> {
    const module = companionName(name);
    const notLoaded = (code: FailureCode, reason: string, hint?: string): CompanionOutcome => ({ state: 'not-loaded', module, code, reason, ...(hint === undefined ? {} : { hint }) });
    const port = this.o.port;
    if (port === undefined) return notLoaded('companion-refused', 'this daemon cannot load modules (no insmod under this --root)');

    // 0. kallsyms tells which object each variable name resolves to and which symbol can hold the
    // base: without it nothing proves the companion safe. Under systemd's ProtectKernelTunables= it
    // reads empty (an inaccessible file is mounted over it) rather than failing.
    const kallsyms = this.o.host.kallsyms();
    if (kallsyms === undefined || kallsyms.trim() === '') {
      const file = this.o.host.paths.hostView(this.o.host.paths.procKallsyms);
      return notLoaded('companion-unsafe', `${file} ${kallsyms === undefined ? 'cannot be read' : 'reads empty'}: which object a variable name resolves to cannot be checked`,
        'under systemd install systemd/kernel-companions.conf (ProtectKernelTunables= hides /proc/kallsyms); README "Kernel-native extras"');
    }

    // 1. Build and validate (makeCompanionFrom validates the BTF in full before writing it).
    const koPath = this.installedKo(name);
    if (koPath === undefined) return notLoaded('companion-build', `no installed module of ${this.o.release} for ${name} in modules.dep`, `install the kernel's modules package (/lib/modules/${this.o.release})`);
    let made;
    try {
      made = await this.o.builder.build({
        name, vmlinux: inputs.vmlinux, objectBtf: inputs.objectBtf, extras: inputs.extras, koPath,
        vmlinuxFile: this.o.host.paths.hostView(this.o.host.paths.sysBtf('vmlinux')), kallsyms,
      });
    } catch (e) {
      return notLoaded('companion-build', oneLine(e));
    }
    let bytes = made.bytes;
    if (sign) {
      try {
        const under = this.o.host.paths.under;
        bytes = signModule(bytes, loadSigningIdentity(under(this.o.signKey ?? ''), under(this.o.signCert ?? '')));
      } catch (e) {
        return notLoaded('companion-build', `signing: ${oneLine(e)}`, 'check companions.signKey and companions.signCert');
      }
    }

    // 2. Hold the base before the companion exists.
    if (!made.hold.safe) return notLoaded('companion-unsafe', `${made.hold.reason} (nothing keeps it loaded under a BPF program)`);
    let pinned: string | undefined;
    if (made.hold.mechanism === 'pinned-program') {
      pinned = this.pinPath(name);
      try {
        await port.hold(name, made.hold.symbol.id, pinned);
      } catch (e) {
        return notLoaded('companion-unsafe', `cannot pin a program holding ${name}: ${oneLine(e)}`, 'needs bpffs at /sys/fs/bpf and, under systemd, systemd/kernel-companions.conf (README)');
      }
    }
    const hold = made.hold.mechanism === 'pinned-program'
      ? `pinned BPF program ${this.o.host.paths.hostView(pinned!)} refers to ${made.hold.symbol.name} through ${name}'s BTF: rmmod ${name} says in use until btf-extra release ${name}`
      : describeHold(name, made.hold);
    const undoHold = async (): Promise<void> => { if (pinned !== undefined) await port.unhold(pinned).catch(() => {}); };

    // 3. Insert from the cache dir, then check the kernel took its BTF as we wrote it.
    try {
      writeFileAtomic(this.storedPath(name), bytes);
      writeFileAtomic(this.digestPath(name), `${sha256(made.btf)}\n`);
    } catch (e) {
      await undoHold();
      return notLoaded('companion-build', `storing ${this.storedPath(name)}: ${oneLine(e)}`);
    }
    try {
      await port.insmod(this.storedPath(name));
    } catch (e) {
      await undoHold();
      return notLoaded('companion-refused', `insmod ${module}: ${oneLine(e)}`, 'see dmesg; destination: files keeps the extras as files only');
    }
    const loaded = this.o.host.readBtf(module);
    if (loaded === undefined || sha256(loaded) !== sha256(made.btf)) {
      await port.rmmod(module).catch(() => {});
      await undoHold();
      return notLoaded('companion-refused', `${module} loaded but /sys/kernel/btf/${module} ${loaded === undefined ? 'did not appear' : 'differs from its .BTF'} (the kernel refused its BTF: see dmesg); removed again`);
    }
    return { state: 'loaded', module, btf: this.o.host.paths.hostView(this.o.host.paths.sysBtf(module)), hold, variables: made.variables };
  }

  /**
   * Companion out first, then the hold; a companion in use by a BPF program stays (and so does its
   * hold). `baseGone`: the base module left already (only `rmmod -f` can do that to a held base):
   * its pin is kept, because releasing it would put a module that no longer exists (an oops in 6.1).
   */
  async remove(name: string, opts: { readonly baseGone?: boolean } = {}): Promise<{ readonly ok: true } | { readonly ok: false; readonly code: FailureCode; readonly reason: string }> {
    const port = this.o.port;
    const module = companionName(name);
    if (port === undefined) return { ok: false, code: 'companion-refused', reason: 'this daemon cannot unload modules (no rmmod under this --root)' };
    if (this.o.host.hasBtf(module)) {
      try { await port.rmmod(module); } catch (e) {
        return { ok: false, code: 'companion-in-use', reason: `rmmod ${module}: ${oneLine(e)}` };
      }
    }
    if (opts.baseGone !== true) await this.dropHold(name);
    return { ok: true };
  }

  /**
   * Unpin the program holding `name`, if any (its companion is gone), and wait until the kernel has
   * let go of the module (it does after an RCU grace period), so `modprobe -r` right after works.
   * Never when the base is not loaded: see remove().
   */
  async dropHold(name: string): Promise<void> {
    const pin = this.pinPath(name);
    if (this.o.port === undefined || !existsSync(pin)) return;
    if (!(await this.o.host.loadedModules()).includes(name)) return; // the base is gone: keep the pin
    const refcnt = join(this.o.host.paths.root, 'sys/module', name, 'refcnt');
    const read = (): number | undefined => {
      try { return Number.parseInt(readRegularFileSync(refcnt, { maxBytes: 64 }).toString('utf8'), 10); } catch { return undefined; }
    };
    const before = read();
    await this.o.port.unhold(pin);
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let i = 0; i < 40 && before !== undefined; i++) {
      const now = read();
      if (now === undefined || now < before) break;
      await sleep(50);
    }
  }
}

/** The `kernel` part of an object's status from an outcome. */
export function companionStatus(outcome: CompanionOutcome): CompanionStatus {
  if (outcome.state === 'loaded') return { state: 'loaded', module: outcome.module, btf: outcome.btf, hold: outcome.hold, variables: outcome.variables };
  return { state: 'not-loaded', module: outcome.module, code: outcome.code, reason: outcome.reason, ...(outcome.hint === undefined ? {} : { hint: outcome.hint }) };
}
