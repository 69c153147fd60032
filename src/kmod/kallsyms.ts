/**
 * Hazard 3, found while building vmlinux_btf_extra: the kernel finds a __ksym variable's address by
 * NAME (6.1 check_pseudo_btf_id -> kallsyms_lookup_name: vmlinux's symbols first, then the modules,
 * the most recently loaded first), while the type comes from the BTF. When two symbols share a name
 * (statics of the same name in two compile units or two modules), a program can get one variable's
 * type over another's address and read past it. A companion therefore keeps only variables whose
 * name the lookup resolves to the right object; this module decides that from /proc/kallsyms. Pure.
 */

/** Owners of each symbol name in a kallsyms listing ('' = vmlinux, else the module). */
export type KallsymsIndex = ReadonlyMap<string, readonly string[]>;

/** Parses `/proc/kallsyms` lines: `ADDRESS TYPE NAME [MODULE]`; malformed lines are skipped. */
export function parseKallsyms(text: string): KallsymsIndex {
  const owners = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const name = f[2]!;
    const owner = f[3] !== undefined && f[3].startsWith('[') && f[3].endsWith(']') ? f[3].slice(1, -1) : '';
    const list = owners.get(name);
    if (list) list.push(owner); else owners.set(name, [owner]);
  }
  return owners;
}

/**
 * Whether looking `name` up by name gives `base`'s variable ('vmlinux' or a module name): for
 * vmlinux, exactly one vmlinux symbol of that name (vmlinux is searched first) or none at all; for a
 * module, no vmlinux symbol and no other module's, and at most one of its own (none while the
 * module is not loaded yet). A module loaded later with the same name would shadow it (the newest
 * module is searched first): whoever keeps companions loaded must re-check when modules load.
 */
export function nameResolvesTo(index: KallsymsIndex, name: string, base: string): boolean {
  const owners = index.get(name) ?? [];
  // Absent from kallsyms: a program using it fails to load ("failed to find the address"), no harm.
  if (base === 'vmlinux') return owners.length === 0 || owners.filter((o) => o === '').length === 1;
  return owners.every((o) => o === base) && owners.length <= 1;
}
