/**
 * Errors for host-side formats the daemon reads: raw ELF notes, /proc/modules lines, the kernel
 * release file and the ELF headers of debug files (build id only).
 */
import { FormatError, type ErrorLocation } from '../util/errors.js';

export const HOST_ERROR_CODES = [
  'note-truncated',   // a note header or payload runs past the end of the bytes
  'modules-line',     // a /proc/modules line without name, size and state
  'release-empty',    // the kernel release file is empty
  'elf-magic',        // not an ELF file
  'elf-unsupported',  // not ELF64 little-endian
  'elf-truncated',    // headers or note sections run past the end of the file
] as const;
export type HostErrorCode = (typeof HOST_ERROR_CODES)[number];

export class HostFormatError extends FormatError<HostErrorCode> {
  constructor(code: HostErrorCode, what: string, where: ErrorLocation = {}, details: Record<string, unknown> = {}) {
    super(code, what, where, details);
    this.name = 'HostFormatError';
  }
}
