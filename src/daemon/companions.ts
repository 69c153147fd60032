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
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Btf } from '../btf/btf.js';
import { parseBtf } from '../btf/parse.js';
import type { HostReader } from '../host/reader.js';
import { COMPANION_SUFFIX, companionName } from '../kmod/companion.js';
import { readInstalledModule } from '../kmod/installed-ko.js';
import { makeCompanionFrom } from '../kmod/make.js';
import { describeHold } from '../kmod/safety.js';
import { loadSigningIdentity, signModule } from '../kmod/sign.js';
import { KIND } from '../btf/kinds.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFileSync } from '../util/safe-file.js';
import type { CompanionStatus } from './api.js';
import type { FailureCode } from './failure.js';

/** What the daemon asks of the kernel; the real one runs insmod/rmmod and the bpf(2) helper. */
export interface KernelPort {
  insmod(file: string): Promise<void>;
  rmmod(module: string): Promise<void>;
  /** Load a program referencing function `btfId` of `module`'s BTF and pin it at `pinPath`. */
  hold(module: string, btfId: number, pinPath: string): Promise<void>;
  /** Unpin (drop the hold); a missing pin is fine. */
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
}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 400);

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class Companions {
  private vmlinuxMemo: { bytes: Uint8Array; btf: Btf } | undefined;

  constructor(private readonly o: CompanionsOptions) {}

  /** Where the built module is kept (cache dir, per kernel release): insmod reads it from there. */
  storedPath(name: string): string {
    return join(this.o.cacheDir, 'companions', this.o.release, `${companionName(name)}.ko`);
  }

  private digestPath(name: string): string { return `${this.storedPath(name)}.btf-sha256`; }

  pinPath(name: string): string { return join(this.o.host.paths.bpffs, 'btf-extra', name); }

  /** Whether the companion loaded now is the one we built (its BTF is the one we stored). */
  isOurs(name: string): boolean {
    let want: string;
    try { want = readRegularFileSync(this.digestPath(name), { maxBytes: 128 }).toString('utf8').trim(); } catch { return false; }
    const loaded = this.o.host.readBtf(`${name}${COMPANION_SUFFIX}`);
    return loaded !== undefined && sha256(loaded) === want;
  }

  private parseVmlinux(bytes: Uint8Array): Btf {
    if (this.vmlinuxMemo?.bytes !== bytes) this.vmlinuxMemo = { bytes, btf: parseBtf(bytes, { source: 'vmlinux BTF' }) };
    return this.vmlinuxMemo.btf;
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

    // 1. Build and validate (makeCompanionFrom validates the BTF in full before writing it).
    const koPath = this.installedKo(name);
    if (koPath === undefined) return notLoaded('companion-build', `no installed module of ${this.o.release} for ${name} in modules.dep`, `install the kernel's modules package (/lib/modules/${this.o.release})`);
    let made;
    let moduleBtf: Btf | undefined;
    try {
      const vmlinux = this.parseVmlinux(inputs.vmlinux);
      moduleBtf = name === 'vmlinux' ? undefined : parseBtf(inputs.objectBtf, { base: vmlinux, source: `${name} BTF` });
      const extras = parseBtf(inputs.extras, { base: moduleBtf ?? vmlinux, source: `${name} extras` });
      made = makeCompanionFrom({
        name, vmlinux, extras, ko: readInstalledModule(koPath), koPath,
        vmlinuxFile: this.o.host.paths.hostView(this.o.host.paths.sysBtf('vmlinux')), kallsyms: this.o.host.kallsyms(),
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
    let hold: string;
    let pinned: string | undefined;
    if (made.hold.safe) {
      hold = describeHold(name, made.hold);
    } else {
      const fn = moduleBtf === undefined ? undefined : pickHoldFunction(moduleBtf, this.moduleSymbols(name));
      if (fn === undefined) {
        return notLoaded('companion-unsafe', `${name} exports no symbol and its BTF has no function a pinned program could reference: nothing keeps it loaded under a BPF program, so its companion is not inserted (files still published)`);
      }
      pinned = this.pinPath(name);
      try {
        mkdirSync(join(this.o.host.paths.bpffs, 'btf-extra'), { recursive: true });
        await port.hold(name, fn.id, pinned);
      } catch (e) {
        return notLoaded('companion-unsafe', `cannot pin a program holding ${name}: ${oneLine(e)}`, `mount bpffs at ${this.o.host.paths.hostView(this.o.host.paths.bpffs)} (mount -t bpf bpf /sys/fs/bpf)`);
      }
      hold = `pinned BPF program ${this.o.host.paths.hostView(pinned)} references ${fn.name}() of ${name}: rmmod ${name} is refused until btf-extra release ${name}`;
    }
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

  /** Companion out first, then the hold; a companion in use by a BPF program stays (and so does its hold). */
  async remove(name: string): Promise<{ readonly ok: true } | { readonly ok: false; readonly code: FailureCode; readonly reason: string }> {
    const port = this.o.port;
    const module = companionName(name);
    if (port === undefined) return { ok: false, code: 'companion-refused', reason: 'this daemon cannot unload modules (no rmmod under this --root)' };
    if (this.o.host.hasBtf(module)) {
      try { await port.rmmod(module); } catch (e) {
        return { ok: false, code: 'companion-in-use', reason: `rmmod ${module}: ${oneLine(e)}` };
      }
    }
    await this.dropHold(name);
    return { ok: true };
  }

  /** Unpin the program holding `name`, if any (after its companion is gone). */
  async dropHold(name: string): Promise<void> {
    const pin = this.pinPath(name);
    if (this.o.port !== undefined && existsSync(pin)) await this.o.port.unhold(pin);
  }

  /** Names the running kernel lists for module `name` (the held function must resolve by name). */
  private moduleSymbols(name: string): ReadonlySet<string> | undefined {
    const text = this.o.host.kallsyms();
    if (text === undefined) return undefined;
    const out = new Set<string>();
    const tag = `[${name}]`;
    for (const line of text.split('\n')) {
      if (!line.endsWith(tag)) continue;
      const f = line.split(/\s+/);
      if (f.length >= 4 && f[3] === tag) out.add(f[2]!);
    }
    return out;
  }
}

/** The `kernel` part of an object's status from an outcome. */
export function companionStatus(outcome: CompanionOutcome): CompanionStatus {
  if (outcome.state === 'loaded') return { state: 'loaded', module: outcome.module, btf: outcome.btf, hold: outcome.hold, variables: outcome.variables };
  return { state: 'not-loaded', module: outcome.module, code: outcome.code, reason: outcome.reason, ...(outcome.hint === undefined ? {} : { hint: outcome.hint }) };
}

// TEMPORARY until src/kmod/bpf-hold.ts lands: the module's first own FUNC whose name kallsyms lists.
function pickHoldFunction(btf: Btf, symbols: ReadonlySet<string> | undefined): { id: number; name: string } | undefined {
  for (let id = btf.startId; id < btf.nextId; id++) {
    const t = btf.type(id as never);
    if (t.kind !== KIND.FUNC) continue;
    const name = btf.nameOf(id as never);
    if (symbols === undefined || symbols.has(name)) return { id, name };
  }
  return undefined;
}
