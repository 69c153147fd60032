/**
 * Option parsing shared by the subcommands: node:util `parseArgs` (strict, positionals allowed)
 * with its errors turned into UsageError, so every command reports bad options the same way
 * ("btf-extra NAME: message", exit 2) instead of each repeating the try/catch.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** FILE's chain root first: every `--base` (given root first), then FILE. */
export function chainPaths(bases: readonly string[] | undefined, file: string): string[] {
  return [...(bases ?? []), file];
}
