/**
 * Hazard 1 (use after free): a BPF program pins the module that owns the BTF it used (the
 * companion), not the one that owns the variable's address (the base). If the base unloads while
 * such a program runs, the program reads freed memory. So a companion may be loaded only when
 * something keeps its base in memory for as long as the companion is loaded:
 *  - vmlinux never unloads: always safe;
 *  - a module that exports a symbol: the companion imports it (an undefined symbol + its
 *    __versions CRC); the loader's resolve_symbol then calls ref_module(companion, base), so
 *    `rmmod base` fails with "in use" until the companion is removed;
 *  - otherwise, a module with BTF can be held from outside: a BPF program whose ld_imm64 names a
 *    VAR through the module's BTF object takes a module reference for its lifetime (bpf-hold.ts);
 *    pinned in bpffs it holds the base until the pin is removed. Weaker than an import: `rmmod -f`
 *    still unloads where CONFIG_MODULE_FORCE_UNLOAD=y (Debian's), and the holder must pin before
 *    the companion loads and unpin after it is gone;
 *  - a module with neither cannot be held: not safe.
 * Pure: the caller reads the exports (installed-ko.ts) and the BTF (pickHoldSymbol) and acts on the decision.
 */
import type { HoldSymbol } from './bpf-hold.js';
import type { CompanionImport } from './companion.js';
import { MODULE_NAME_LEN, type ExportedSymbol } from './installed-ko.js';

export type HoldDecision =
  | { readonly safe: true; readonly mechanism: 'never-unloads' }
  | { readonly safe: true; readonly mechanism: 'imports-export'; readonly import: CompanionImport }
  | { readonly safe: true; readonly mechanism: 'pinned-program'; readonly symbol: HoldSymbol }
  | { readonly safe: false; readonly reason: string };

/**
 * The export to import: one without a namespace when there is one (no `import_ns=` needed), then
 * the first by name, so the same base always gives the same companion.
 */
function pickExport(exports: readonly ExportedSymbol[]): ExportedSymbol | undefined {
  // A name must fit struct modversion_info's name[MODULE_NAME_LEN] to carry its CRC.
  const byName = exports.filter((e) => Buffer.byteLength(e.name) < MODULE_NAME_LEN)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return byName.find((e) => e.namespace === '') ?? byName[0];
}

/**
 * Exports first (the companion itself holds the base, even against `rmmod -f`), then a pinned
 * program on `pinnable` (pickHoldSymbol of the base's BTF; undefined when there is none).
 */
export function decideHold(base: string, exports: readonly ExportedSymbol[], pinnable?: HoldSymbol): HoldDecision {
  if (base === 'vmlinux') return { safe: true, mechanism: 'never-unloads' };
  const chosen = pickExport(exports);
  if (chosen !== undefined) {
    return { safe: true, mechanism: 'imports-export', import: { name: chosen.name, crc: chosen.crc, namespace: chosen.namespace } };
  }
  if (pinnable !== undefined) return { safe: true, mechanism: 'pinned-program', symbol: pinnable };
  return { safe: false, reason: `${base} exports no symbol: the companion cannot hold it; not loaded, files still published` };
}

/** One line for logs and `status`. */
export function describeHold(base: string, d: HoldDecision): string {
  if (!d.safe) return d.reason;
  if (d.mechanism === 'never-unloads') return `${base} never unloads: safe to load`;
  if (d.mechanism === 'pinned-program') {
    return `a pinned BPF program naming ${d.symbol.kind.toUpperCase()} ${d.symbol.name} through ${base}'s BTF holds ${base}: rmmod ${base} is refused while the pin exists (rmmod -f can still force it)`;
  }
  return `imports ${d.import.name}${d.import.namespace ? ` (namespace ${d.import.namespace})` : ''} from ${base}: rmmod ${base} is refused while the companion is loaded`;
}
