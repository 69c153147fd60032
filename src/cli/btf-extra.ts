#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processIo, UsageError, type CliIo, type Command } from './command.js';

/**
 * Every subcommand, in the order `--help` lists them. Modules load on first use, so a
 * short-lived `btf-extra encode` (the daemon runs one per job) does not pay for the
 * daemon client, systeminformation or winston.
 */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}
const commands: readonly CommandEntry[] = [
  { name: 'vars', summary: 'list every static-storage variable in an object\'s DWARF',
    load: async () => (await import('./commands/vars.js')).varsCommand },
  { name: 'encode', summary: 'encode an object\'s DWARF as BTF (extras or full) split on a base chain',
    load: async () => (await import('./commands/encode.js')).encodeCommand },
  { name: 'merge', summary: 'flatten a BTF chain onto a base or into one standalone file; merge sibling modules',
    load: async () => (await import('./commands/merge.js')).mergeCommand },
  { name: 'companion', summary: 'write a loadable kernel module NAME_btf_extra carrying the extras as module BTF',
    load: async () => (await import('./commands/companion.js')).companionCommand },
  { name: 'status', summary: 'show the daemon\'s objects and their extras (state, source, vars, reason)',
    load: async () => (await import('./commands/status.js')).statusCommand },
  { name: 'regen', summary: 'regenerate the extras of some or all objects (through the daemon)',
    load: async () => (await import('./commands/regen.js')).regenCommand },
  { name: 'release', summary: 'take generated companions out of the kernel so their base modules can unload',
    load: async () => (await import('./commands/release.js')).releaseCommand },
  { name: 'doctor', summary: 'check kernel BTF, debug info per loaded module and the daemon; say what to install',
    load: async () => (await import('./commands/doctor.js')).doctorCommand },
  { name: 'lookup', summary: 'find a kernel variable: object, C type, section and offset',
    load: async () => (await import('./commands/lookup.js')).lookupCommand },
  { name: 'dump', summary: 'print a BTF file (raw like bpftool, C declarations, or JSON)',
    load: async () => (await import('./commands/dump.js')).dumpCommand },
  { name: 'validate', summary: 'check a BTF file with the kernel\'s and libbpf\'s rules',
    load: async () => (await import('./commands/validate.js')).validateCommand },
];

/** The command table, for tests that check each entry against its module. */
export const commandTable: readonly CommandEntry[] = commands;

function help(io: CliIo): void {
  const width = Math.max(8, ...commands.map((c) => c.name.length));
  io.out('Usage: btf-extra COMMAND [ARGS...]\n\n'
    + 'Encode, inspect and publish BTF for every kernel variable (the $MODULE-btf-extra companions).\n\nCommands:\n'
    + commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}\n`).join('')
    + '\nRun `btf-extra COMMAND --help` for a command\'s options.\n');
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') { help(io); return name === undefined ? 2 : 0; }
  if (name === '--version') { io.out('btf-extra 0.1.0\n'); return 0; }
  const entry = commands.find((c) => c.name === name);
  if (!entry) { io.err(`btf-extra: unknown command '${name}' (see btf-extra --help)\n`); return 2; }
  try {
    const cmd = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) { io.out(cmd.usage); return 0; }
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) { io.err(`btf-extra ${name}: ${e.message}\n`); return 2; }
    io.err(`btf-extra ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// Run only when executed, not when imported by tests.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
