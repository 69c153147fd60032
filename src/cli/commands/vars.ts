/**
 * `btf-extra vars OBJECT [--json] [--file-only] [--explain [--base FILE]...]`: every variable with
 * static storage that the object's DWARF defines (name, linkage, scope, ELF section, section offset,
 * size, C type). Order: section name, offset, name, DIE offset (deterministic). `--explain` adds the
 * encoder's decision per variable through the encoder's own selection code (src/encoder/explain.ts),
 * so what `vars` says is kept or left out is exactly what `encode` does.
 */
import { ElfFile } from '../../elf/index.js';
import { collectVariables, Dwarf, type StaticVariable } from '../../dwarf/index.js';
import { explainVariables, type VariableDecision } from '../../encoder/explain.js';
import { EXCLUSION, type VarsPolicy } from '../../encoder/select.js';
import { readBaseChain } from '../../encoder/chain.js';
import { parseCommandArgs } from '../args.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra vars OBJECT [--json] [--file-only] [--explain [--base FILE]... [--mode extras|full] [--vars all|percpu|none]]

List every variable with static storage defined by OBJECT's DWARF (vmlinux or a .ko):
name, linkage (external/static), scope (file/function), ELF section, section-relative
offset, size in bytes and the C spelling of its type.

Options:
  --json        one JSON document: { file, units, declarations, variables: [...] }
  --file-only   leave out function-local statics
  --explain     add the encoder's decision per variable: "kept", or the rule that leaves it out
                (same options as \`btf-extra encode\`: --base lists the chain root first; in extras
                mode, variables the last --base already describes are left out as "in-base")
`;

export function sortVariables(vars: readonly StaticVariable[]): StaticVariable[] {
  // Rank section names once and compare numbers: this sorts ~44,000 vmlinux variables.
  const names = [...new Set(vars.map((v) => v.sectionName ?? '\uffff'))].sort();
  const rank = new Map(names.map((n, i) => [n, i]));
  const keyed = vars.map((v) => ({ v, s: rank.get(v.sectionName ?? '\uffff')!, o: Number(v.offset) }));
  keyed.sort((a, b) => a.s - b.s || a.o - b.o || (a.v.offset < b.v.offset ? -1 : a.v.offset > b.v.offset ? 1 : 0)
    || (a.v.name < b.v.name ? -1 : a.v.name > b.v.name ? 1 : 0) || a.v.dieOffset - b.v.dieOffset);
  return keyed.map((k) => k.v);
}

/** Names come from the object's bytes: escape control characters so each variable stays one table line. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** "kept", or "<rule>: <why>" for a variable the encoder leaves out. */
function decisionText(d: VariableDecision | undefined): string {
  if (d === undefined) return '-';
  if (d.reason === undefined) return 'kept';
  return `${d.reason}: ${EXCLUSION[d.reason]}${d.detail ? ` (${d.detail})` : ''}`;
}

function toJson(v: StaticVariable, d: VariableDecision | undefined): Record<string, unknown> {
  return {
    name: v.name,
    linkage: v.linkage,
    scope: v.scope,
    ...(v.function !== undefined ? { function: v.function } : {}),
    section: v.sectionName ?? null,
    offset: Number(v.offset),
    size: v.size ?? null,
    ...(v.symbolSize !== undefined ? { symbolSize: Number(v.symbolSize) } : {}),
    type: v.cType,
    die: v.dieOffset,
    ...(v.implicitValue ? { implicitValue: true } : {}),
    ...(d !== undefined ? { encoder: d.reason === undefined ? { kept: true } : { kept: false, rule: d.reason, why: EXCLUSION[d.reason], ...(d.detail ? { detail: d.detail } : {}) } } : {}),
  };
}

export const varsCommand: Command = {
  name: 'vars',
  summary: 'list every static-storage variable in an object\'s DWARF',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(argv, {
      json: { type: 'boolean' }, 'file-only': { type: 'boolean' }, explain: { type: 'boolean' },
      base: { type: 'string', multiple: true }, mode: { type: 'string' }, vars: { type: 'string' },
    });
    if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one OBJECT (see --help)');
    const { explain, mode, vars: varsPolicy } = parsed.values;
    const bases = parsed.values.base ?? [];
    if (!explain && (bases.length > 0 || mode !== undefined || varsPolicy !== undefined)) {
      throw new UsageError('--base, --mode and --vars go with --explain');
    }
    if (mode !== undefined && mode !== 'extras' && mode !== 'full') throw new UsageError(`--mode must be extras or full, not '${mode}'`);
    if (varsPolicy !== undefined && varsPolicy !== 'all' && varsPolicy !== 'percpu' && varsPolicy !== 'none') {
      throw new UsageError(`--vars must be all, percpu or none, not '${varsPolicy}'`);
    }
    const path = parsed.positionals[0]!;
    const elf = ElfFile.open(path);
    const dwarf = Dwarf.fromElf(elf);
    const scan = collectVariables(dwarf, { functionStatics: !parsed.values['file-only'] });
    const vars = sortVariables(scan.variables);
    const decisions = new Map<StaticVariable, VariableDecision>();
    if (explain) {
      const base = bases.length > 0 ? readBaseChain(bases) : undefined;
      const opts = {
        base,
        ...(mode !== undefined ? { mode: mode as 'extras' | 'full' } : {}),
        ...(varsPolicy !== undefined ? { vars: varsPolicy as VarsPolicy } : {}),
      };
      for (const d of explainVariables(elf, dwarf, vars, opts)) decisions.set(d.variable, d);
    }
    if (parsed.values.json) {
      const variables = vars.map((v) => toJson(v, decisions.get(v)));
      io.out(`${JSON.stringify({ file: path, units: scan.units, declarations: scan.declarations, variables }, null, 1)}\n`);
      return 0;
    }
    const rows = vars.map((v) => [
      printable(v.scope === 'function' && v.function ? `${v.function}::${v.name}` : v.name),
      v.linkage,
      v.implicitValue ? 'function(value)' : v.scope,
      v.sectionName ?? '-',
      `0x${v.offset.toString(16)}`,
      v.size !== undefined ? String(v.size) : v.symbolSize !== undefined ? `${v.symbolSize} (symbol)` : '?',
      printable(v.cType),
      ...(explain ? [decisionText(decisions.get(v))] : []),
    ]);
    const header = ['NAME', 'LINKAGE', 'SCOPE', 'SECTION', 'OFFSET', 'SIZE', 'TYPE', ...(explain ? ['ENCODER'] : [])];
    const widths = header.map((h) => h.length);
    for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.min(48, Math.max(widths[i]!, r[i]!.length));
    const last = header.length - 1;
    const line = (r: string[]): string => {
      let s = '';
      for (let i = 0; i < last; i++) s += `${r[i]!.padEnd(widths[i]!)}  `;
      return `${s}${r[last]!}\n`;
    };
    const parts: string[] = [line(header)];
    for (const r of rows) parts.push(line(r));
    io.out(parts.join(''));
    return 0;
  },
};
