/**
 * /proc/modules: one line per module, "name size refcount deps state address".
 * Only Live modules count as loaded: a Loading module has no BTF or notes yet.
 */
import { FILE_LIMITS, readRegularFile } from '../util/safe-file.js';
import { HostFormatError } from './errors.js';

export interface ProcModule {
  readonly name: string;
  readonly size: number;
  readonly state: string;
  /** Load address as printed (0x0 without CAP_SYSLOG under kptr_restrict); '' when absent. */
  readonly address: string;
}

/**
 * Every well-formed line. A malformed one throws 'modules-line', or, given `onMalformed`, is
 * passed to it and skipped (the daemon must not stop seeing modules over one odd line).
 */
export function parseProcModules(text: string, file?: string, onMalformed?: (e: HostFormatError) => void): ProcModule[] {
  const out: ProcModule[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const here = offset;
    offset += line.length + 1;
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [name, size, , , state, address] = fields;
    if (name === undefined || size === undefined || state === undefined || !/^\d+$/.test(size)) {
      const e = new HostFormatError('modules-line', `expected "name size refcount deps state address", got ${JSON.stringify(line.slice(0, 80))}`, { file, offset: here }, { line });
      if (!onMalformed) throw e;
      onMalformed(e);
      continue;
    }
    out.push({ name, size: Number(size), state, address: address ?? '' });
  }
  return out;
}

/** The Live modules, in file order. */
export async function readLiveModules(procModules: string, onMalformed?: (e: HostFormatError) => void): Promise<ProcModule[]> {
  const text = (await readRegularFile(procModules, { maxBytes: FILE_LIMITS.text })).toString('utf8');
  return parseProcModules(text, procModules, onMalformed).filter((m) => m.state === 'Live');
}

/** Names of the Live modules, in file order. */
export async function readLoadedModules(procModules: string, onMalformed?: (e: HostFormatError) => void): Promise<string[]> {
  return (await readLiveModules(procModules, onMalformed)).map((m) => m.name);
}
