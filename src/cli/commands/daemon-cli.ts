/**
 * What the daemon-facing commands (status, regen, lookup, doctor) share: the --root/--socket/
 * --config options, finding the control socket and status.json the way the daemon lays them
 * out (config runtimeDir under the injected root), and small text-table formatting.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG, loadConfig, type DaemonConfig } from '../../daemon/config.js';
import { publisherLayout } from '../../daemon/publish.js';
import { hostPaths, type HostPaths } from '../../host/paths.js';
import { safeName } from '../../util/errors.js';
import { UsageError, type CliIo } from '../command.js';

export const LOCATION_OPTIONS = {
  root: { type: 'string' },
  socket: { type: 'string' },
  config: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const LOCATION_USAGE = `  --root DIR       treat DIR as / (the daemon's --root); default /
  --socket PATH    control socket (default <root>/run/btf-extra/control.sock, or the config's runtimeDir)
  --config FILE    daemon config to read runtimeDir from (default <root>/etc/btf-extra/config.yaml)
`;

/** node:util parseArgs with its errors turned into usage errors (exit 2). */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export interface DaemonLocation {
  readonly paths: HostPaths;
  readonly config: DaemonConfig;
  readonly runtimeDir: string;
  readonly socket: string;
  readonly statusFile: string;
}

/**
 * Where the daemon's socket and status file are. The config is read only for runtimeDir; a
 * broken default config is reported and ignored (status must work when the config is wrong).
 */
export async function locateDaemon(
  values: { readonly root?: string | undefined; readonly socket?: string | undefined; readonly config?: string | undefined }, io: CliIo,
): Promise<DaemonLocation> {
  const paths = hostPaths(values.root ?? '/');
  let config = DEFAULT_CONFIG;
  try {
    config = (await loadConfig(values.config ?? paths.defaultConfigFile, values.config !== undefined)).config;
  } catch (e) {
    if (values.config !== undefined) throw e;
    io.err(`btf-extra: ignoring ${paths.defaultConfigFile}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  const runtimeDir = paths.under(config.runtimeDir);
  const layout = publisherLayout(runtimeDir);
  return { paths, config, runtimeDir, socket: values.socket ?? layout.controlSocket, statusFile: layout.statusFile };
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'] as const;
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. Cells are made printable. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = rows.map((r) => r.map((c) => printable(c)));
  const widths = header.map((h, i) => Math.min(40, Math.max(h.length, ...clean.map((r) => (r[i] ?? '').length))));
  const line = (r: readonly string[]): string => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()}\n`;
  return line(header) + clean.map(line).join('');
}

/** Names and reasons come from the daemon or files: escape control characters before printing. */
export function printable(s: string): string {
  return /[\u0000-\u001f\u007f]/.test(s) ? safeName(s, 200) : s;
}
