import type { CliIo, Command } from '../../src/cli/command.js';

/** A CliIo that records what a command printed, for in-process CLI tests. */
export function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => { out += t; }, err: (t) => { err += t; }, stdout: () => out, stderr: () => err };
}

/** Run one command in-process; its exit code and everything it printed. */
export async function runCommand(command: Command, argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await command.run(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}
