/**
 * `btf-extra release NAME...`: ask the daemon to take the generated companions of the named
 * objects out of the kernel and drop what held their base modules, so `modprobe -r NAME` works.
 * They stay out until the module loads again or `btf-extra regen NAME`. Exit 1 when one cannot be
 * removed (a BPF program still uses it: the daemon says which).
 */
import { requestRelease } from '../../daemon/control/client.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { LOCATION_OPTIONS, LOCATION_USAGE, locateDaemon, parseCommandArgs, printable } from './daemon-cli.js';

const usage = `Usage: btf-extra release NAME... [--json] [--root DIR] [--socket PATH]

Remove the generated companion modules NAME_btf_extra from the kernel (destination kernel/both),
then drop what held each base module, so that \`modprobe -r NAME\` can unload it. A companion in use
by a BPF program cannot be removed: the command fails and says so.
  --json           the resulting object states (JSON)
${LOCATION_USAGE}`;

export const releaseCommand: Command = {
  name: 'release',
  summary: 'take generated companions out of the kernel so their base modules can unload',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, { ...LOCATION_OPTIONS, json: { type: 'boolean' } });
    if (positionals.length === 0) throw new UsageError('expected object names (see --help)');
    const where = await locateDaemon(values, io);
    const { objects } = await requestRelease(where.socket, positionals, { timeoutMs: 60_000 });
    if (values.json) io.out(`${JSON.stringify({ objects }, null, 1)}\n`);
    else io.out(objects.map((o) => `${printable(o.name)}: companion ${o.kernel?.state ?? 'unknown'}${o.kernel?.reason ? `: ${printable(o.kernel.reason)}` : ''}\n`).join(''));
    return objects.every((o) => o.kernel?.state === 'released') ? 0 : 1;
  },
};
