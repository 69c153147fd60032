/** KmodError: every way building (or holding the base of) a companion module can fail, as a closed code union. */
import { FormatError } from '../util/errors.js';

export const KMOD_ERROR_CODES = [
  'bad-name',             // the companion's module name is empty, too long for MODULE_NAME_LEN or has bad characters
  'no-struct-module',     // vmlinux BTF has no `struct module` (or no `name` member): the loader's layout is unknown
  'bad-struct-module',    // `struct module` is there but its `name` member is not a char array inside it
  'bad-ko',               // the installed .ko cannot be read as an ELF module (wraps ElfError)
  'no-vermagic',          // the installed .ko has no .modinfo vermagic= (the loader compares it)
  'no-module-layout',     // the installed .ko has no __versions entry for module_layout (MODVERSIONS needs its CRC)
  'kernel-mismatch',      // the installed .ko's this_module size differs from vmlinux BTF's struct module: not the same kernel
  'bad-exports',          // the installed .ko's __ksymtab/__kcrctab tables are inconsistent
  'bad-btf',              // a --btf file is unreadable, or vmlinux BTF is not standalone
  'extras-not-split',     // EXTRAS is not split BTF on the given --btf chain
  'no-variables',         // EXTRAS holds no variable: a companion would publish nothing
  'invalid-btf',          // the companion's BTF fails validation (never written)
  'bad-kallsyms',         // --kallsyms unreadable
  'bad-signing-key',      // --sign-key unreadable or not an RSA private key
  'bad-certificate',      // --sign-cert unreadable, not X.509, or not the key's certificate
  'hold-unavailable',     // the pinned-program hold cannot run here: no perl, or no bpf(2) number for this architecture
  'hold-denied',          // bpf(2) not permitted (no CAP_BPF/CAP_SYS_ADMIN, seccomp, or no bpf(2) at all)
  'hold-no-btf',          // no kernel BTF object of that name is loaded (module not loaded, or built without BTF)
  'hold-refused',         // the kernel refused the hold program (the verifier's reason attached)
  'hold-pin-failed',      // the program loaded but could not be pinned (no bpffs there, bad path)
  'hold-failed',          // any other failure of the hold program (timeout, unexpected output, bad id)
] as const;
export type KmodErrorCode = (typeof KMOD_ERROR_CODES)[number];

export class KmodError extends FormatError<KmodErrorCode> {
  override readonly name = 'KmodError';
}
