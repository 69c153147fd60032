/**
 * `btf-extra status`: every object the daemon tracks, its state and why, from the control
 * socket; when the daemon cannot be asked, from the last status.json it wrote (and says so).
 */
import { FILE_LIMITS, readRegularFileSync, SafeFileError } from '../../util/safe-file.js';
import type { DaemonStatus, ObjectStatus } from '../../daemon/api.js';
import { fetchStatus } from '../../daemon/control/client.js';
import { ControlError } from '../../daemon/control/protocol.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { formatBytes, formatTable, LOCATION_OPTIONS, LOCATION_USAGE, locateDaemon, parseCommandArgs, printable } from './daemon-cli.js';

const usage = `Usage: btf-extra status [--json] [--root DIR] [--socket PATH] [--config FILE]

Show every object btf-extrad tracks (vmlinux and each loaded module): state, where its extras
came from, variable count, size, and for problems the reason and what to install.
When the daemon is not reachable, shows the last status.json it wrote.
  --json           the full status document (JSON)
${LOCATION_USAGE}`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the daemon\'s objects and their extras (state, source, vars, reason)',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, { ...LOCATION_OPTIONS, json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0] ?? ''}'`);
    const where = await locateDaemon(values, io);
    let status: DaemonStatus;
    try {
      status = await fetchStatus(where.socket, { timeoutMs: 5000 });
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      status = readStatusFile(where.statusFile, e.message);
      io.err(`btf-extra status: ${e.message}; showing ${where.statusFile} (last written ${status.updatedAt})\n`);
    }
    io.out(values.json ? `${JSON.stringify(status, null, 1)}\n` : formatStatus(status));
    return 0;
  },
};

/** The status file as the daemon wrote it; errors say why the socket failed too. */
export function readStatusFile(path: string, socketProblem: string): DaemonStatus {
  let text: string;
  try { text = readRegularFileSync(path, { maxBytes: FILE_LIMITS.text }).toString('utf8'); } catch (e) {
    throw new Error(`${socketProblem}, and ${e instanceof SafeFileError && e.code !== 'missing' ? `${path}: ${e.reason}` : `there is no ${path}`}`);
  }
  let doc: unknown;
  try { doc = JSON.parse(text); } catch {
    throw new Error(`${socketProblem}, and ${path} is not JSON`);
  }
  if (!isStatus(doc)) throw new Error(`${socketProblem}, and ${path} is not a btf-extrad status document`);
  return doc;
}

function isStatus(x: unknown): x is DaemonStatus {
  if (typeof x !== 'object' || x === null) return false;
  const objects = (x as { objects?: unknown }).objects;
  return Array.isArray(objects) && objects.every((o: unknown) => typeof o === 'object' && o !== null
    && typeof (o as ObjectStatus).name === 'string' && typeof (o as ObjectStatus).state === 'string');
}

/** Objects in a stable order: vmlinux first, then by name. */
function sortedObjects(objects: readonly ObjectStatus[]): ObjectStatus[] {
  return [...objects].sort((a, b) => (a.name === 'vmlinux' ? -1 : b.name === 'vmlinux' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function formatStatus(s: DaemonStatus): string {
  const counts = new Map<string, number>();
  for (const o of s.objects) counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
  const summary = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${n} ${k}`).join(', ');
  const head = `btf-extrad ${printable(String(s.version))} (pid ${s.pid}), kernel ${printable(String(s.kernelRelease))}, `
    + `${s.objects.length} object${s.objects.length === 1 ? '' : 's'}${summary ? `: ${summary}` : ''}\n`
    + `updated ${printable(String(s.updatedAt))}${s.published['kernel'] ? `; merged view: ${printable(s.published['kernel'])}` : ''}\n\n`;
  if (s.objects.length === 0) return `${head}(no objects)\n`;
  const rows = sortedObjects(s.objects).map((o) => [
    o.name,
    o.state,
    o.policy ?? '-',
    o.source ?? '-',
    o.vars === undefined ? '-' : String(o.vars),
    formatBytes(o.bytes),
    [o.reason, o.hint ? `install: ${o.hint}` : undefined].filter((x) => x !== undefined).join('; ') || '-',
  ]);
  const table = formatTable(['OBJECT', 'STATE', 'POLICY', 'SOURCE', 'VARS', 'SIZE', 'REASON / HINT'], rows);
  // Generated companions in the running kernel (destination kernel/both): one line each.
  const kernel = sortedObjects(s.objects).filter((o) => o.kernel !== undefined).map((o) => {
    const k = o.kernel!;
    const where = k.state === 'loaded' ? (k.btf ?? k.module) : k.module;
    const why = [k.hold, k.reason, k.code === undefined ? undefined : `[${k.code}]`, k.hint === undefined ? undefined : `hint: ${k.hint}`].filter((x) => x !== undefined).join(' ');
    return `  ${printable(o.name)}: ${k.state} ${printable(where)}${why ? ` (${printable(why)})` : ''}\n`;
  });
  return head + table + (kernel.length === 0 ? '' : `\nin the kernel:\n${kernel.join('')}`);
}
