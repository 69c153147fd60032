/** Public surface of the companion-module writer. */
export {
  DEFAULT_HOLD_TIMEOUT_MS, HOLD_EXIT, HOLD_PROGRAM, holdModule, holdPinPath, perlRunner, pickHoldSymbol, probeHold, releaseHold,
  type HoldResult, type HoldRun, type HoldRunner, type HoldSymbol, type HoldTarget,
} from './bpf-hold.js';
export { buildCompanion, companionName, COMPANION_SUFFIX, type CompanionImport, type CompanionSpec } from './companion.js';
export { buildCompanionBtf, checkSplit, type CompanionBtf, type CompanionBtfOptions } from './companion-btf.js';
export { nameResolvesTo, parseKallsyms, type KallsymsIndex } from './kallsyms.js';
export { KMOD_ERROR_CODES, KmodError, type KmodErrorCode } from './errors.js';
export {
  moduleLayoutVersion, modinfoValue, parseInstalledModule, readInstalledModule, vermagicOf,
  type ExportedSymbol, type InstalledModule, type ModVersion,
} from './installed-ko.js';
export { decideHold, describeHold, type HoldDecision } from './safety.js';
export { structModuleLayout, type StructModuleLayout } from './struct-module.js';
export { writeRelocatable, type OutSection, type OutSymbol } from './elf-writer.js';
export { loadSigningIdentity, MODULE_SIG_MAGIC, pkcs7Signature, signModule, splitSignature, type SigningIdentity } from './sign.js';
