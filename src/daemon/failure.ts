/**
 * Machine-readable codes for what went wrong with one object, kept next to the one-line reason in
 * status.json, `btf-extra status --json` and the control API (scripts and fleet tooling match on
 * the code, people read the reason).
 */
export const FAILURE_CODES = {
  'encoder-timeout': 'the encoder overran jobs.timeoutSeconds and was killed',
  'encoder-memory': 'the encoder grew past jobs.memoryMB and was killed',
  'encoder-crash': 'the encoder process died during the job',
  'encoder-spawn': 'no encoder process could be started',
  'invalid-dwarf': 'the debug file is not readable ELF/DWARF',
  'no-debug-info': 'the debug file carries no DWARF (.debug_info)',
  'bad-base': 'the BTF chain the extras split on could not be read',
  'too-many-types': 'the extras would exceed the kernel\'s type id limit',
  'invalid-output': 'the encoder\'s output failed validation',
  'build-id-mismatch': 'debug files were found but none has the loaded object\'s build id',
  'no-debuginfo': 'no debug file for the object',
  'cache-invalid': 'a cache entry failed validation and was discarded (then regenerated)',
  'btf-unreadable': 'the object\'s own BTF (or vmlinux\'s) could not be read',
  'companion-failed': 'the companion module could not be loaded',
  'companion-unsafe': 'nothing can keep the base module loaded while its companion is: the companion is not inserted',
  'companion-unsigned': 'lockdown or module.sig_enforce: the kernel loads signed modules only, and no signing key is configured',
  'modules-disabled': 'kernel.modules_disabled=1: no module can be loaded until reboot',
  'companion-build': 'the companion module could not be built (e.g. no installed .ko of this kernel)',
  'companion-refused': 'the kernel refused the companion module (insmod failed, or it loaded without BTF)',
  'companion-in-use': 'the companion could not be removed: a BPF program uses it',
  'internal': 'an unexpected error in the daemon',
} as const;
export type FailureCode = keyof typeof FAILURE_CODES;

/** An object's job failed for a known reason. */
export class JobFailed extends Error {
  constructor(readonly code: FailureCode, message: string) {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'JobFailed';
  }
}

/** The code of any error a job can end with (a plain Error is `internal`). */
export function failureCodeOf(e: unknown): FailureCode {
  return e instanceof JobFailed ? e.code : 'internal';
}

/** The encoder's own error codes (EncoderError, with ELF/DWARF errors wrapped) mapped to ours. */
export function codeOfEncoderError(errorName: string | undefined, code: string | undefined): FailureCode {
  if (errorName === 'ElfError' || errorName === 'DwarfError') return 'invalid-dwarf';
  switch (code) {
    case 'bad-object': return 'invalid-dwarf';
    case 'no-debug-info': return 'no-debug-info';
    case 'bad-base': return 'bad-base';
    case 'too-many-types': return 'too-many-types';
    case 'invalid-output': return 'invalid-output';
    default: return 'internal';
  }
}
