/**
 * `btf-extra merge`: reshape BTF chains for tools that read only one or two levels.
 *   merge FILE [--base B]... --onto K -o OUT      levels above the first K joined into one level split on level K
 *   merge FILE [--base B]... --standalone -o OUT  the whole chain as one standalone BTF
 *   merge --standalone --base VMLINUX F1 F2... -o OUT   siblings on one base, deduplicated, standalone
 * A FILE may be written as a chain `MODULE+EXTRA` (EXTRA split on MODULE, MODULE on the last --base).
 */
import { existsSync } from 'node:fs';
import type { Btf } from '../../btf/btf.js';
import { dedupBtf } from '../../btf/dedup.js';
import { exposeAnonEnums, flattenOnto, flattenStandalone, mergeSiblings } from '../../btf/merge.js';
import { readBtfChain } from '../../btf/parse.js';
import { writeBtf } from '../../btf/write.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra merge FILE [--base FILE]... (--onto K | --standalone) -o OUT [--dedup]
       btf-extra merge --standalone --base VMLINUX FILE1 FILE2... -o OUT

Join BTF levels for tools that read at most one base (bpftool, libbpf < 1.7) or one file
(BPFTRACE_BTF, libbpf btf_custom_path).

--base lists the chain root first: \`--base vmlinux --base kvm\` means FILE is split on kvm,
which is split on vmlinux. A FILE may also be given as a chain \`MODULE+EXTRA\` (EXTRA split
on MODULE, MODULE split on the last --base).

Options:
  --onto K         keep the first K levels of the chain (root first, counting --base files)
                   as the base and join every level above them into ONE level split on level K.
                   Example: --base vmlinux mod+mod-btf-extra --onto 1 gives mod and its extras as
                   one level on vmlinux (readable by \`bpftool btf dump file OUT -B vmlinux\`).
  --standalone     one standalone BTF. With several FILEs, each is a sibling split on the last
                   --base (e.g. every loaded module on vmlinux); they are merged and deduplicated
                   against the base (base type ids are kept).
  --dedup          deduplicate the joined level (--onto) or the whole result (single-FILE
                   --standalone); sibling merges are always deduplicated
  -o, --output OUT file to write (atomically)
`;

interface MergeArgs {
  bases: string[];
  files: string[][];
  onto: number | undefined;
  standalone: boolean;
  dedup: boolean;
  output: string;
}

/** `A+B` is a chain unless a file of that exact name exists. */
function splitChain(arg: string): string[] {
  if (existsSync(arg) || !arg.includes('+')) return [arg];
  const parts = arg.split('+');
  if (parts.some((p) => p === '')) throw new UsageError(`empty part in chain '${arg}'`);
  return parts;
}

function parse(argv: readonly string[]): MergeArgs {
  const parsed = parseCommandArgs(argv, {
    base: { type: 'string', multiple: true },
    onto: { type: 'string' },
    standalone: { type: 'boolean' },
    dedup: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  });
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw new UsageError('expected at least one FILE (see --help)');
  if (v.output === undefined) throw new UsageError('missing -o OUT');
  const standalone = v.standalone === true;
  if ((v.onto !== undefined) === standalone) throw new UsageError('give exactly one of --onto K and --standalone');
  let onto: number | undefined;
  if (v.onto !== undefined) {
    if (!/^[0-9]+$/.test(v.onto)) throw new UsageError(`--onto expects a level count, got '${v.onto}'`);
    onto = Number(v.onto);
  }
  const files = parsed.positionals.map(splitChain);
  if (files.length > 1 && !standalone) throw new UsageError('several FILEs (siblings) need --standalone');
  if (files.length > 1 && (v.base ?? []).length === 0) throw new UsageError('siblings need their shared base: --base VMLINUX');
  return { bases: v.base ?? [], files, onto, standalone, dedup: v.dedup === true, output: v.output };
}

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'flatten a BTF chain onto a base or into one standalone file; merge sibling modules',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const a = parse(argv);
    const base = a.bases.length > 0 ? readBtfChain(a.bases) : undefined;
    let out: Btf;
    let what: string;
    if (a.files.length > 1) {
      const siblings = a.files.map((chain) => readBtfChain(chain, base));
      out = mergeSiblings(base!, siblings);
      what = `${siblings.length} siblings merged on ${a.bases[a.bases.length - 1]}, standalone`;
    } else {
      const top = readBtfChain(a.files[0]!, base);
      const levels = top.chain();
      if (a.onto !== undefined) {
        if (a.onto < 1 || a.onto >= levels.length) {
          throw new UsageError(`--onto ${a.onto}: the chain has ${levels.length} levels, so K must be 1..${levels.length - 1}`);
        }
        const onto = levels[a.onto - 1]!;
        out = flattenOnto(top, onto, { dedup: a.dedup });
        what = `${levels.length - a.onto} level(s) joined, split on ${onto.source ?? `level ${a.onto}`}`;
      } else {
        out = flattenStandalone(top);
        if (a.dedup) out = dedupBtf(out);
        what = `${levels.length} level(s), standalone`;
      }
    }
    // A merged file is for tools: bpftool's C dump must still print the enumerators of anonymous enums only VARs use.
    exposeAnonEnums(out);
    const bytes = writeBtf(out);
    writeFileAtomic(a.output, bytes);
    io.out(`${a.output}: ${out.types.length} types, ${bytes.length} bytes (${what})\n`);
    return 0;
  },
};
