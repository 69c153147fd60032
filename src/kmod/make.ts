/**
 * From files to a companion module: what `btf-extra companion` (and later the daemon) runs.
 *   vmlinux BTF [+ module BTF] + EXTRAS  -> .BTF (2-level, validated)
 *   vmlinux BTF                          -> struct module size and name offset
 *   INSTALLED_KO                         -> vermagic, module_layout CRC, the base's exports
 */
import type { Btf } from '../btf/btf.js';
import { BtfError } from '../btf/errors.js';
import { readBtfFile } from '../btf/parse.js';
import { writeBtf } from '../btf/write.js';
import { buildCompanion, type CompanionImport } from './companion.js';
import { buildCompanionBtf, type CompanionBtf } from './companion-btf.js';
import { KmodError } from './errors.js';
import { nameResolvesTo, parseKallsyms } from './kallsyms.js';
import { modinfoValue, moduleLayoutVersion, readInstalledModule, vermagicOf, type InstalledModule } from './installed-ko.js';
import { pickHoldSymbol } from './bpf-hold.js';
import { decideHold, type HoldDecision } from './safety.js';
import { structModuleLayout } from './struct-module.js';

export interface MakeCompanionOptions {
  /** Base object: 'vmlinux' or a module name. */
  readonly name: string;
  /** vmlinux BTF, then (for a module) the module's BTF. */
  readonly btf: readonly string[];
  readonly extras: string;
  /** The base module's installed .ko (for vmlinux: any installed module). */
  readonly ko: string;
  /**
   * The running kernel's /proc/kallsyms text: variables whose name the kernel's by-name address
   * lookup would resolve to another symbol are left out (kallsyms.ts). Without it, only names that
   * EXTRAS itself holds twice are.
   */
  readonly kallsyms?: string | undefined;
}

export interface MadeCompanion {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly hold: HoldDecision;
  readonly variables: number;
  readonly dropped: CompanionBtf['dropped'];
  readonly btfBytes: number;
  /** The companion's .BTF section (what /sys/kernel/btf/<name> shows once it is loaded). */
  readonly btf: Uint8Array;
}

function readLevel(path: string, base: Btf | undefined, code: 'bad-btf' | 'extras-not-split'): Btf {
  try {
    return readBtfFile(path, { base });
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    throw new KmodError(e.code === 'io' ? 'bad-btf' : code, e.message, {}, { file: path, btfCode: e.code });
  }
}

export function makeCompanion(o: MakeCompanionOptions): MadeCompanion {
  const isVmlinux = o.name === 'vmlinux';
  if (o.btf.length !== (isVmlinux ? 1 : 2)) {
    throw new KmodError('bad-btf', isVmlinux ? 'vmlinux companion takes one --btf (vmlinux BTF)' : `a module companion takes two --btf: vmlinux BTF, then ${o.name}'s BTF`);
  }
  const vmlinux = readLevel(o.btf[0]!, undefined, 'bad-btf');
  const moduleBtf = isVmlinux ? undefined : readLevel(o.btf[1]!, vmlinux, 'bad-btf');
  const extras = readLevel(o.extras, moduleBtf ?? vmlinux, 'extras-not-split');
  return makeCompanionFrom({ name: o.name, vmlinux, extras, ko: readInstalledModule(o.ko), koPath: o.ko, kallsyms: o.kallsyms, vmlinuxFile: o.btf[0]! });
}

/** Already parsed inputs (the daemon holds them in memory): `extras` is split on the module's BTF (or vmlinux's). */
export interface CompanionInputs {
  readonly name: string;
  readonly vmlinux: Btf;
  readonly extras: Btf;
  readonly ko: InstalledModule;
  /** For messages. */
  readonly koPath: string;
  readonly vmlinuxFile: string;
  readonly kallsyms?: string | undefined;
}

export function makeCompanionFrom(o: CompanionInputs): MadeCompanion {
  const isVmlinux = o.name === 'vmlinux';
  const { vmlinux, extras, ko } = o;
  const layout = structModuleLayout(vmlinux);
  const baseName = isVmlinux ? 'vmlinux' : o.name.replace(/-/g, '_');
  const index = o.kallsyms !== undefined ? parseKallsyms(o.kallsyms) : undefined;
  const companionBtf = buildCompanionBtf(vmlinux, extras, index ? { resolvesByName: (n) => nameResolvesTo(index, n, baseName) } : {});
  // The BTF and the .ko must describe one kernel: a vmlinux BTF of another build would give the
  // companion base type ids (and a struct module) that the running kernel does not have.
  if (ko.thisModuleSize !== undefined && ko.thisModuleSize !== layout.size) {
    throw new KmodError('kernel-mismatch', `.gnu.linkonce.this_module is ${ko.thisModuleSize} bytes, but struct module in ${o.vmlinuxFile} is ${layout.size}: `
      + 'the vmlinux BTF and the installed module are not from the same kernel', { file: o.koPath, section: '.gnu.linkonce.this_module' });
  }
  const vermagic = vermagicOf(ko);
  const moduleLayout = moduleLayoutVersion(ko);
  const koName = modinfoValue(ko, 'name');
  if (!isVmlinux && koName !== undefined && koName.replace(/-/g, '_') !== o.name.replace(/-/g, '_')) {
    throw new KmodError('bad-ko', `the installed module is ${koName}, not ${o.name}: give the base module's .ko (its exports hold the base)`, { file: o.koPath });
  }
  // No export to import: a program pinned by the daemon can hold the base through its BTF (bpf-hold.ts).
  const pinnable = isVmlinux || extras.base === undefined || extras.base === vmlinux ? undefined : pickHoldSymbol(extras.base, index);
  const hold = decideHold(baseName, ko.exports, pinnable);
  const imports: CompanionImport[] = hold.safe && hold.mechanism === 'imports-export' ? [hold.import] : [];
  const btfBytes = writeBtf(companionBtf.btf);
  const { name, bytes } = buildCompanion({
    base: isVmlinux ? 'vmlinux' : o.name,
    layout, vermagic, moduleLayout, btf: btfBytes, imports,
    depends: imports.length > 0 && koName !== undefined ? [koName] : [],
    retpoline: modinfoValue(ko, 'retpoline') === 'Y',
  });
  return { name, bytes, hold, variables: companionBtf.variables, dropped: companionBtf.dropped, btfBytes: btfBytes.length, btf: btfBytes };
}
