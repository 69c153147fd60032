/** Distribution id from /etc/os-release (ID and ID_LIKE), for "what to install" hints. */
import { FILE_LIMITS, readRegularFile } from '../util/safe-file.js';

export interface OsRelease {
  readonly id: string | undefined;
  readonly idLike: readonly string[];
}

export function parseOsRelease(text: string): OsRelease {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m && m[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2].replace(/^["']|["']$/g, ''));
  }
  return { id: vars.get('ID'), idLike: (vars.get('ID_LIKE') ?? '').split(/\s+/).filter((x) => x !== '') };
}

export async function readOsRelease(file: string): Promise<OsRelease> {
  try { return parseOsRelease((await readRegularFile(file, { maxBytes: FILE_LIMITS.text })).toString('utf8')); } catch { return { id: undefined, idLike: [] }; }
}
