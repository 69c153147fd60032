/** Kernel release (`uname -r`) read from /proc/sys/kernel/osrelease under the injected root. */
import { FILE_LIMITS, readRegularFile } from '../util/safe-file.js';
import { HostFormatError } from './errors.js';

export async function readKernelRelease(osRelease: string): Promise<string> {
  const release = (await readRegularFile(osRelease, { maxBytes: FILE_LIMITS.text })).toString('utf8').trim();
  if (release === '') throw new HostFormatError('release-empty', 'kernel release is empty', { file: osRelease });
  return release;
}
