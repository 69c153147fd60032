/** EncoderError: every way `encode` can refuse an object, base chain or batch list, as a closed code union. */
import { FormatError } from '../util/errors.js';

export const ENCODER_ERROR_CODES = [
  'no-debug-info',     // the object has no .debug_info section (stripped, or not built with -g)
  'bad-object',        // the object could not be read as ELF/DWARF (wraps ElfError/DwarfError)
  'bad-base',          // a --base file could not be read as BTF
  'too-many-types',    // the output would exceed the kernel's type id limit
  'invalid-output',    // the BTF built failed validation (never written)
  'bad-batch',         // a --batch list line is malformed
] as const;
export type EncoderErrorCode = (typeof ENCODER_ERROR_CODES)[number];

export class EncoderError extends FormatError<EncoderErrorCode> {
  override readonly name = 'EncoderError';
}

/** A non-fatal problem: something skipped, with the DIE offset (in .debug_info) when there is one. */
export interface EncoderWarning {
  readonly dieOffset?: number | undefined;
  readonly message: string;
}

export function formatWarning(file: string, w: EncoderWarning): string {
  const where = w.dieOffset !== undefined ? ` .debug_info +0x${w.dieOffset.toString(16)}` : '';
  return `${file}:${where} ${w.message}`.replace(/[\r\n]+/g, ' ');
}
