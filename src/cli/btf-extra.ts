#!/usr/bin/env node
import { processIo, UsageError, type CliIo, type Command } from './command.js';
import { varsCommand } from './commands/vars.js';
import { encodeCommand } from './commands/encode.js';
import { mergeCommand } from './commands/merge.js';
import { statusCommand } from './commands/status.js';
import { regenCommand } from './commands/regen.js';
import { doctorCommand } from './commands/doctor.js';
import { lookupCommand } from './commands/lookup.js';
import { dumpCommand } from './commands/dump.js';
import { validateCommand } from './commands/validate.js';

/** Every subcommand, in the order `--help` lists them. */
const commands: readonly Command[] = [
  varsCommand,
  encodeCommand,
  mergeCommand,
  statusCommand,
  regenCommand,
  doctorCommand,
  lookupCommand,
  dumpCommand,
  validateCommand,
];

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
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) { io.err(`btf-extra: unknown command '${name}' (see btf-extra --help)\n`); return 2; }
  if (rest.includes('--help') || rest.includes('-h')) { io.out(cmd.usage); return 0; }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) { io.err(`btf-extra ${name}: ${e.message}\n`); return 2; }
    io.err(`btf-extra ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// Run only when executed, not when imported by tests.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
