import type { CliIo } from '../../src/cli/command.js';

/** A CliIo that records what a command printed, for in-process CLI tests. */
export function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => { out += t; }, err: (t) => { err += t; }, stdout: () => out, stderr: () => err };
}
