/**
 * Shape of one `btf-extra` subcommand. Each lives in its own file under commands/ and is
 * listed in btf-extra.ts; a command returns its exit code and writes through `io` so tests
 * can run it in-process.
 */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full usage text shown by `btf-extra NAME --help`. */
  readonly usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

export const processIo: CliIo = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

/** Thrown for bad command-line usage; printed as "btf-extra NAME: message" with exit 2. */
export class UsageError extends Error {}
