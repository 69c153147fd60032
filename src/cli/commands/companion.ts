/**
 * `btf-extra companion NAME --btf VMLINUX_BTF [--btf MODULE_BTF] --extras EXTRAS --ko INSTALLED_KO -o OUT.ko`:
 * writes the loadable module `<NAME>_btf_extra` (src/kmod). Nothing is loaded here.
 */
import { FILE_LIMITS, readRegularFileSync } from '../../util/safe-file.js';
import { KmodError } from '../../kmod/errors.js';
import { makeCompanion } from '../../kmod/make.js';
import { describeHold } from '../../kmod/safety.js';
import { loadSigningIdentity, signModule } from '../../kmod/sign.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra companion NAME --btf VMLINUX_BTF [--btf MODULE_BTF] --extras EXTRAS --ko INSTALLED_KO -o OUT.ko
                           [--sign-key KEY --sign-cert CERT]

Write the kernel module NAME_btf_extra: no code, a .BTF split on vmlinux holding the variables of
EXTRAS and every type they need that vmlinux lacks. Loaded (insmod), it makes those variables
visible in /sys/kernel/btf/NAME_btf_extra, so BPF programs can use them as __ksym externs.

  NAME            vmlinux, or the base module (as the kernel names it, e.g. kvm_intel)
  --btf FILE      vmlinux BTF, then for a module the module's BTF (raw, .BTF of an ELF, or gzip)
  --extras FILE   the extras: split on the module's BTF (or on vmlinux for NAME=vmlinux)
  --ko FILE       the base module's installed .ko (for vmlinux: any installed module); gives
                  vermagic, module_layout's CRC and the symbol the companion imports to hold it
  -o, --output OUT.ko
  --kallsyms FILE the running kernel's /proc/kallsyms: leave out variables whose name the kernel's
                  by-name address lookup would resolve to another symbol (a static of the same name
                  elsewhere). Names EXTRAS holds twice are always left out.
  --sign-key KEY, --sign-cert CERT   append a module signature (PKCS#7, as sign-file writes)

A companion may be loaded only while something keeps its base loaded (README, hazard 1): vmlinux
never unloads; a module with an export is held by the companion importing it; a module without one
is held by a pinned BPF program, which btf-extrad sets up before it inserts the companion
(destination kernel/both): load such a companion through the daemon, not by hand.
Exit status: 0 written, 1 error, 2 usage.
`;

function readText(path: string): string {
  try {
    return readRegularFileSync(path, { maxBytes: FILE_LIMITS.symbols }).toString('utf8');
  } catch (e) {
    throw new KmodError('bad-kallsyms', `cannot read: ${(e as Error).message}`, { file: path });
  }
}

export const companionCommand: Command = {
  name: 'companion',
  summary: 'write a loadable kernel module NAME_btf_extra carrying the extras as module BTF',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(argv, {
      btf: { type: 'string', multiple: true },
      extras: { type: 'string' },
      ko: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'sign-key': { type: 'string' },
      'sign-cert': { type: 'string' },
      kallsyms: { type: 'string' },
    });
    const v = parsed.values;
    if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one NAME (see --help)');
    const name = parsed.positionals[0]!;
    if (v.btf === undefined || v.btf.length === 0) throw new UsageError('missing --btf VMLINUX_BTF');
    if (v.extras === undefined) throw new UsageError('missing --extras EXTRAS');
    if (v.ko === undefined) throw new UsageError('missing --ko INSTALLED_KO');
    if (v.output === undefined) throw new UsageError('missing -o OUT.ko');
    if ((v['sign-key'] === undefined) !== (v['sign-cert'] === undefined)) throw new UsageError('--sign-key and --sign-cert go together');
    // Key and certificate are checked first: a bad key should not cost a BTF build.
    const signer = v['sign-key'] !== undefined ? loadSigningIdentity(v['sign-key'], v['sign-cert']!) : undefined;
    const kallsyms = v.kallsyms !== undefined ? readText(v.kallsyms) : undefined;
    const made = makeCompanion({ name, btf: v.btf, extras: v.extras, ko: v.ko, kallsyms });
    const bytes = signer !== undefined ? signModule(made.bytes, signer) : made.bytes;
    writeFileAtomic(v.output, bytes);
    io.out(`${v.output}: module ${made.name}, ${made.variables} variables, .BTF ${made.btfBytes} bytes, ${bytes.length} bytes${signer ? `, signed by ${signer.cert.subject.replace(/\n/g, ', ')}` : ''}\n`);
    if (made.dropped.length > 0) {
      const dup = made.dropped.filter((d) => d.reason === 'duplicate-name').length;
      io.out(`left out: ${made.dropped.length} variables whose address the kernel cannot find by name unambiguously (${dup} duplicate names in EXTRAS, ${made.dropped.length - dup} ambiguous in kallsyms)\n`);
    }
    io.out(`hold: ${describeHold(name, made.hold)}\n`);
    if (made.hold.safe && made.hold.mechanism === 'pinned-program') {
      io.out('note: this file alone does not hold the base: btf-extrad pins that program before it inserts the companion (destination kernel/both); do not insmod it by hand\n');
    }
    return 0;
  },
};
