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

export function parseProcModules(text: string, file?: string): ProcModule[] {
  const out: ProcModule[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const here = offset;
    offset += line.length + 1;
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [name, size, , , state, address] = fields;
    if (name === undefined || size === undefined || state === undefined || !/^\d+$/.test(size)) {
      throw new HostFormatError('modules-line', `expected "name size refcount deps state address", got ${JSON.stringify(line.slice(0, 80))}`, { file, offset: here });
    }
    out.push({ name, size: Number(size), state, address: address ?? '' });
  }
  return out;
}

/** The Live modules, in file order. */
export async function readLiveModules(procModules: string): Promise<ProcModule[]> {
  const text = (await readRegularFile(procModules, { maxBytes: FILE_LIMITS.text })).toString('utf8');
  return parseProcModules(text, procModules).filter((m) => m.state === 'Live');
}

/** Names of the Live modules, in file order. */
export async function readLoadedModules(procModules: string): Promise<string[]> {
  return (await readLiveModules(procModules)).map((m) => m.name);
}
