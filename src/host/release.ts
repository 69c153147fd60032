/** Kernel release (`uname -r`) read from /proc/sys/kernel/osrelease under the injected root. */
import { readFile } from 'node:fs/promises';
import { HostFormatError } from './errors.js';

export async function readKernelRelease(osRelease: string): Promise<string> {
  const release = (await readFile(osRelease, 'utf8')).trim();
  if (release === '') throw new HostFormatError('release-empty', 'kernel release is empty', { file: osRelease });
  return release;
}
