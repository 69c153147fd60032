/**
 * `btf-extra regen NAME...|--all`: ask the daemon to regenerate extras (bypassing its cache) and
 * wait for the jobs; one line per object with its new state. Exit 1 if any object ended badly.
 */
import type { ObjectState, ObjectStatus } from '../../daemon/api.js';
import { requestRegen } from '../../daemon/control/client.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { formatBytes, LOCATION_OPTIONS, LOCATION_USAGE, locateDaemon, parseCommandArgs, printable } from './daemon-cli.js';

const usage = `Usage: btf-extra regen (NAME... | --all) [--json] [--timeout SECONDS] [--root DIR] [--socket PATH]

Regenerate the extras of the named objects (vmlinux or module names), or of every loaded object,
bypassing the cache; waits until the jobs end.
  --all            every loaded object
  --json           the resulting object states (JSON)
  --timeout SECONDS  how long to wait for the jobs (default 900)
${LOCATION_USAGE}`;

/** States after which an object has usable extras. */
const GOOD_STATES: ReadonlySet<ObjectState> = new Set<ObjectState>(['published', 'kernel-provided', 'companion-loaded', 'skipped']);

export const regenCommand: Command = {
  name: 'regen',
  summary: 'regenerate the extras of some or all objects (through the daemon)',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, {
      ...LOCATION_OPTIONS, all: { type: 'boolean' }, json: { type: 'boolean' }, timeout: { type: 'string' },
    });
    if (values.all && positionals.length > 0) throw new UsageError('give object names or --all, not both');
    if (!values.all && positionals.length === 0) throw new UsageError('expected object names or --all (see --help)');
    const timeoutSec = values.timeout === undefined ? 900 : Number(values.timeout);
    if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw new UsageError(`--timeout: expected a positive number of seconds, got '${values.timeout ?? ''}'`);
    const where = await locateDaemon(values, io);
    const { objects } = await requestRegen(where.socket, values.all ? { all: true } : { names: positionals }, { timeoutMs: timeoutSec * 1000 });
    if (values.json) io.out(`${JSON.stringify({ objects }, null, 1)}\n`);
    else io.out(objects.length === 0 ? 'no objects regenerated\n' : objects.map(describe).join(''));
    return objects.every((o) => GOOD_STATES.has(o.state)) ? 0 : 1;
  },
};

function describe(o: ObjectStatus): string {
  const facts = [o.source, o.vars === undefined ? undefined : `${o.vars} vars`, o.bytes === undefined ? undefined : formatBytes(o.bytes)]
    .filter((x) => x !== undefined);
  let line = `${printable(o.name)}: ${o.state}`;
  if (facts.length > 0) line += ` (${facts.join(', ')})`;
  if (o.reason) line += `: ${printable(o.reason)}`;
  if (o.hint) line += `; install: ${printable(o.hint)}`;
  return `${line}\n`;
}
