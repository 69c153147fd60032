/**
 * `btf-extra dump FILE [--base FILE]... [--format raw|c|json]`: prints one BTF level the way
 * bpftool does (raw text identical to `bpftool btf dump file FILE -B BASE`), as C declarations,
 * or as JSON. `--base` lists the chain root first; FILE may be raw BTF or an ELF with .BTF.
 */
import { dumpC } from '../../btf/dump-c.js';
import { dumpJson } from '../../btf/dump-json.js';
import { dumpRaw } from '../../btf/dump-raw.js';
import { readBtfChain } from '../../btf/parse.js';
import { chainPaths, parseCommandArgs } from '../args.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra dump FILE [--base FILE]... [--format raw|c|json] [--whole-chain]

Print the types of FILE (raw BTF, or an ELF object's .BTF section). With --base, FILE is split
BTF on the chain given root first: --base vmlinux --base kvm means FILE is split on kvm, which
is split on vmlinux. Only FILE's own types are printed (C output adds the types they need).

Options:
  --base FILE      a level of the base chain (repeat, root first)
  --format FORMAT  raw (default; the text of 'bpftool btf dump file'), c (compilable
                   declarations, variables as extern), json (bpftool -j shape)
  --whole-chain    with --format c: every level's types, as 'bpftool ... -B BASE format c'
`;

export const FORMATS = ['raw', 'c', 'json'] as const;

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'print a BTF file (raw like bpftool, C declarations, or JSON)',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(argv,
      { base: { type: 'string', multiple: true }, format: { type: 'string', short: 'f' }, 'whole-chain': { type: 'boolean' } });
    if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one FILE (see --help)');
    const format = parsed.values.format ?? 'raw';
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown --format '${format}' (raw, c or json)`);
    if (parsed.values['whole-chain'] && format !== 'c') throw new UsageError('--whole-chain goes with --format c');
    const btf = readBtfChain(chainPaths(parsed.values.base, parsed.positionals[0]!));
    io.out(format === 'c' ? dumpC(btf, { wholeChain: parsed.values['whole-chain'] === true }) : format === 'json' ? dumpJson(btf) : dumpRaw(btf));
    return 0;
  },
};
