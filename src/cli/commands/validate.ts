/**
 * `btf-extra validate FILE [--base FILE]... [--all-levels]`: checks FILE's level with the kernel's
 * and libbpf's rules (src/btf/validate.ts). Exit 0 when valid; otherwise exit 1 and one line per
 * problem: "FILE: [id] KIND: rule: message" (or the parse error, which names the byte offset).
 */
import type { Btf } from '../../btf/btf.js';
import { BtfError } from '../../btf/errors.js';
import { readBtfFile } from '../../btf/parse.js';
import { formatProblem, validateBtf } from '../../btf/validate.js';
import { chainPaths, parseCommandArgs } from '../args.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra validate FILE [--base FILE]... [--all-levels]

Check FILE (raw BTF or an ELF object's .BTF) with the kernel's BTF rules (names per kind,
references, sizes, loops, VAR linkage, DATASEC order/overlap/sizes, ...) and libbpf's.
With --base, FILE is split BTF on that chain (root first); the bases are trusted unless
--all-levels is given. Exit 0 when valid; exit 1 with one line per problem.

Options:
  --base FILE     a level of the base chain (repeat, root first)
  --all-levels    validate every level of the chain, not only FILE
`;

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a BTF file with the kernel\'s and libbpf\'s rules',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(argv, { base: { type: 'string', multiple: true }, 'all-levels': { type: 'boolean' } });
    if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one FILE (see --help)');
    const paths = chainPaths(parsed.values.base, parsed.positionals[0]!);
    let btf: Btf | undefined;
    const levels: { path: string; btf: Btf }[] = [];
    for (const p of paths) {
      try {
        btf = readBtfFile(p, { base: btf });
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
        io.out(`${e.message} (${e.code})\n`);
        return 1;
      }
      levels.push({ path: p, btf });
    }
    const checked = parsed.values['all-levels'] ? levels : levels.slice(-1);
    let problems = 0;
    for (const { path, btf: level } of checked) {
      const found = validateBtf(level);
      for (const p of found) io.out(`${path}: ${formatProblem(p)}\n`);
      problems += found.length;
      if (found.length === 0) io.out(`${path}: valid (${level.count} types, ids ${level.startId}..${level.nextId - 1})\n`);
    }
    return problems === 0 ? 0 : 1;
  },
};
