/**
 * `btf-extra vars OBJECT [--json] [--file-only]`: every variable with static storage that
 * the object's DWARF defines (name, linkage, scope, ELF section, section offset, size, C type).
 * Order: section name, offset, name, DIE offset (deterministic). Proves the ELF+DWARF readers.
 */
import { parseArgs } from 'node:util';
import { ElfFile } from '../../elf/index.js';
import { collectVariables, Dwarf, type StaticVariable } from '../../dwarf/index.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra vars OBJECT [--json] [--file-only]

List every variable with static storage defined by OBJECT's DWARF (vmlinux or a .ko):
name, linkage (external/static), scope (file/function), ELF section, section-relative
offset, size in bytes and the C spelling of its type.

Options:
  --json        one JSON document: { file, units, declarations, variables: [...] }
  --file-only   leave out function-local statics
`;

export function sortVariables(vars: readonly StaticVariable[]): StaticVariable[] {
  return [...vars].sort((a, b) => {
    const sa = a.sectionName ?? '\uffff';
    const sb = b.sectionName ?? '\uffff';
    if (sa !== sb) return sa < sb ? -1 : 1;
    if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return a.dieOffset - b.dieOffset;
  });
}

function toJson(v: StaticVariable): Record<string, unknown> {
  return {
    name: v.name,
    linkage: v.linkage,
    scope: v.scope,
    ...(v.function !== undefined ? { function: v.function } : {}),
    section: v.sectionName ?? null,
    offset: Number(v.offset),
    size: v.size ?? null,
    type: v.cType,
    die: v.dieOffset,
    ...(v.implicitValue ? { implicitValue: true } : {}),
  };
}

export const varsCommand: Command = {
  name: 'vars',
  summary: 'list every static-storage variable in an object\'s DWARF',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], allowPositionals: true,
        options: { json: { type: 'boolean' }, 'file-only': { type: 'boolean' } } });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one OBJECT (see --help)');
    const path = parsed.positionals[0]!;
    const dwarf = Dwarf.fromElf(ElfFile.open(path));
    const scan = collectVariables(dwarf, { functionStatics: !parsed.values['file-only'] });
    const vars = sortVariables(scan.variables);
    if (parsed.values.json) {
      io.out(`${JSON.stringify({ file: path, units: scan.units, declarations: scan.declarations, variables: vars.map(toJson) }, null, 1)}\n`);
      return 0;
    }
    const rows = vars.map((v) => [
      v.scope === 'function' && v.function ? `${v.function}::${v.name}` : v.name,
      v.linkage,
      v.implicitValue ? 'function(value)' : v.scope,
      v.sectionName ?? '-',
      `0x${v.offset.toString(16)}`,
      v.size === undefined ? '?' : String(v.size),
      v.cType,
    ]);
    const header = ['NAME', 'LINKAGE', 'SCOPE', 'SECTION', 'OFFSET', 'SIZE', 'TYPE'];
    const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
    const line = (r: string[]): string => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
    io.out(line(header) + rows.map(line).join(''));
    return 0;
  },
};
