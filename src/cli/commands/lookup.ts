/**
 * `btf-extra lookup VAR`: which object describes a variable, its C type, section and offset.
 * Asks the daemon (its merged view of every loaded object with extras), or, with --btf, looks
 * the variable up directly in a BTF file or chain without any daemon.
 */
import { basename } from 'node:path';
import type { LookupHit } from '../../daemon/api.js';
import { requestLookup } from '../../daemon/control/client.js';
import { lookupVariable } from '../../daemon/lookup.js';
import { readBtfChain } from '../../btf/parse.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { formatTable, LOCATION_OPTIONS, LOCATION_USAGE, locateDaemon, parseCommandArgs, printable } from './daemon-cli.js';

const usage = `Usage: btf-extra lookup VAR [--json] [--root DIR] [--socket PATH]
       btf-extra lookup VAR --btf FILE [--base FILE]... [--json]

Find the variable VAR: the object whose BTF (or extras) describes it, its C type, ELF section,
offset and size. Without --btf the daemon answers from its merged view of every loaded object
(on-demand objects get their extras generated first).
  --btf FILE       look VAR up in this BTF file (raw or an ELF .BTF section) instead; no daemon
  --base FILE      FILE is split on this BTF; repeat for a chain, root first
                   (--base vmlinux --base loop --btf loop-btf-extra)
  --json           the hits (JSON)
  --timeout SECONDS  how long to wait for the daemon (default 300: lookups may generate extras)
${LOCATION_USAGE}`;

export const lookupCommand: Command = {
  name: 'lookup',
  summary: 'find a kernel variable: object, C type, section and offset',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, {
      ...LOCATION_OPTIONS, json: { type: 'boolean' }, btf: { type: 'string' }, base: { type: 'string', multiple: true },
      timeout: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one VAR (see --help)');
    const variable = positionals[0] ?? '';
    if (variable === '') throw new UsageError('VAR must not be empty');
    const bases = values.base ?? [];
    if (bases.length > 0 && values.btf === undefined) throw new UsageError('--base needs --btf');
    if (values.btf !== undefined && (values.socket !== undefined || values.root !== undefined)) {
      throw new UsageError('--btf looks in a file: it does not combine with --root/--socket');
    }
    const timeoutSec = values.timeout === undefined ? 300 : Number(values.timeout);
    if (!Number.isFinite(timeoutSec) || timeoutSec <= 0) throw new UsageError(`--timeout: expected a positive number of seconds, got '${values.timeout ?? ''}'`);

    let hits: readonly LookupHit[];
    let where: string;
    if (values.btf !== undefined) {
      const btf = readBtfChain([...bases, values.btf]);
      hits = lookupVariable(btf, variable, (id) => basename(btf.levelOf(id).source ?? '?'));
      where = values.btf;
    } else {
      const loc = await locateDaemon(values, io);
      hits = (await requestLookup(loc.socket, variable, { timeoutMs: timeoutSec * 1000 })).hits;
      where = 'the daemon\'s merged view';
    }
    if (values.json) io.out(`${JSON.stringify({ variable, hits }, null, 1)}\n`);
    if (hits.length === 0) {
      io.err(`btf-extra lookup: no variable named '${printable(variable)}' in ${where}\n`);
      return 1;
    }
    if (!values.json) io.out(formatHits(hits));
    return 0;
  },
};

export function formatHits(hits: readonly LookupHit[]): string {
  return formatTable(['OBJECT', 'LINKAGE', 'SECTION', 'OFFSET', 'SIZE', 'BTF ID', 'DECLARATION'], hits.map((h) => [
    h.object,
    h.linkage,
    h.section === '' ? '-' : h.section,
    h.offset < 0 ? '-' : `0x${h.offset.toString(16)}`,
    String(h.size),
    String(h.btfId),
    declaration(h),
  ]));
}

/** "int max_loop", "const char *names[4]": the type's spelling with the name put where C wants it. */
function declaration(h: LookupHit): string {
  const t = h.cType;
  // Array and function-pointer spellings ("char [16]", "void (*)(int)") take the name inside.
  const arr = t.indexOf('[');
  const fnPtr = t.indexOf('(*)');
  if (fnPtr >= 0 && (arr < 0 || fnPtr < arr)) return `${t.slice(0, fnPtr + 2)}${h.variable}${t.slice(fnPtr + 2)}`;
  if (arr >= 0) {
    const head = t.slice(0, arr).trimEnd();
    return `${head}${head.endsWith('*') ? '' : ' '}${h.variable}${t.slice(arr)}`;
  }
  return `${t}${t.endsWith('*') ? '' : ' '}${h.variable}`;
}
