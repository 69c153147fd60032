import { performance } from 'node:perf_hooks';
/**
 * encodeObject: ELF + DWARF object -> one BTF level split on a base chain (see index.ts for the design).
 */
import { Btf } from '../btf/btf.js';
import { dedupLevelInPlace } from '../btf/dedup.js';
import { BtfError } from '../btf/errors.js';
import { FUNC_LINKAGE, KIND, forEachTypeId, mapStrOffs, mapTypeIds } from '../btf/kinds.js';
import type { BtfType, VarSecInfo } from '../btf/types.js';
import { Dwarf } from '../dwarf/dwarf.js';
import { DwarfError } from '../dwarf/errors.js';
import { ElfError, ElfFile } from '../elf/index.js';
import { EncoderError, type EncoderWarning } from './errors.js';
import { ChainMatcher } from './match.js';
import type { ProtoRef } from './proto.js';
import { selectVariables, type Selection, type VariableCandidate, type VarsPolicy } from './select.js';
import { elfSelectionContext, readableUnits } from './walk.js';
import { decodeUnits, type Decoded } from './chunks.js';
import { firstPerName } from './functions.js';
import { SafeFileError } from '../util/safe-file.js';
import { collectGarbage, isLarge, readObjectForEncoding, type ObjectImage } from './read.js';
import { checkTypeLimit } from './output.js';
import { dropInvalidVariables, pruneUnreachable } from './level.js';
import { chainType, forEachKind } from './lazy.js';

export type EncodeMode = 'extras' | 'full';

export interface EncodeOptions {
  /** The base chain (its top level is what the output is split on); undefined = standalone. */
  readonly base?: Btf | undefined;
  readonly mode?: EncodeMode;
  /** Default: 'all' in extras mode, 'percpu' in full mode. */
  readonly vars?: VarsPolicy;
  /** Validate the result (kernel + libbpf rules) and throw EncoderError('invalid-output') if it fails (default true). */
  readonly validate?: boolean;
  /** Threads for decoding a large object's chunks (default: available parallelism); the output does not depend on it. */
  readonly threads?: number | undefined;
  /** Minimum .debug_info bytes per chunk (default chunks.ts CHUNK_BYTES; tests lower it to get several chunks). */
  readonly chunkBytes?: number | undefined;
  /** Release the ELF file's detached DWARF sections once decoded (encodeObject owns the file it reads, so it does). */
  readonly releaseDwarf?: boolean;
  /** Run libbpf-equivalent dedup over the new level (default: full mode only; extras match every type against the chain first). */
  readonly dedup?: boolean;
}

export interface EncodeStats {
  readonly candidates: number;
  readonly variables: number;
  readonly functions: number;
  readonly newTypes: number;
  readonly reusedFromChain: number;
  /** Milliseconds per phase (walk, types = DIE decoding, match, emit, dedup) and the number of protos built. */
  readonly timings: Readonly<Record<'walk' | 'types' | 'match' | 'emit' | 'dedup' | 'protos', number>>;
  /** How the walk and decoding were cut (chunks.ts): chunks (a property of the input) and threads used. */
  readonly chunks: number;
  readonly threads: number;
}

export interface EncodeResult {
  /** The new level, split on `base` (standalone when there is none). */
  readonly btf: Btf;
  readonly selection: Selection;
  readonly warnings: readonly EncoderWarning[];
  readonly stats: EncodeStats;
}

/** Encodes the object at `path` (or already-read bytes). Throws EncoderError; never returns invalid BTF (unless `validate: false`). */
export function encodeObject(path: string, opts: EncodeOptions = {}, bytes?: Uint8Array | ObjectImage): EncodeResult {
  let elf: ElfFile;
  try {
    const image = bytes === undefined ? readObjectForEncoding(path) : bytes instanceof Uint8Array ? { bytes, sections: undefined } : bytes;
    elf = ElfFile.fromBytes(image.bytes, path, image.sections);
  } catch (e) {
    if (e instanceof SafeFileError) throw new EncoderError('bad-object', `cannot read: ${e.reason}`, { file: path }, { cause: e.code });
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('E') && !(e instanceof ElfError)) {
      throw new EncoderError('bad-object', `cannot read: ${e.message}`, { file: path });
    }
    throw wrap(e, path);
  }
  if (!elf.section('.debug_info')) throw new EncoderError('no-debug-info', 'no .debug_info section (stripped or built without -g)', { file: path });
  let result: EncodeResult;
  try {
    result = encodeElf(elf, { ...opts, releaseDwarf: bytes === undefined });
  } catch (e) {
    throw wrap(e, path);
  }
  return result;
}

function wrap(e: unknown, path: string): unknown {
  if (e instanceof ElfError || e instanceof DwarfError) {
    return new EncoderError('bad-object', e.message.startsWith(path) ? e.message.slice(path.length + 2) : e.message, { file: path }, { cause: e.code });
  }
  if (e instanceof BtfError) return new EncoderError('invalid-output', e.message, { file: path }, { cause: e.code });
  return e;
}

export function encodeElf(elf: ElfFile, opts: EncodeOptions = {}): EncodeResult {
  const mode = opts.mode ?? 'extras';
  // The proto graph and everything built on it are out of scope once the level is built: for
  // vmlinux that is ~100 MB that dedup's own allocations can then reuse.
  const built = buildLevel(elf, opts, mode);
  const { level, stats } = built;
  if (isLarge(elf.bytes)) collectGarbage();
  const T4 = performance.now();
  const hasTypes = level.types.some((t) => t.kind !== KIND.VAR && t.kind !== KIND.DATASEC);
  const wantDedup = opts.dedup ?? mode === 'full';
  // In place: the level is ours and dropped after (saves a copy of every record).
  let out = !wantDedup || !hasTypes ? level : dedupLevelInPlace(level).btf;
  const dedupMs = performance.now() - T4;
  if (mode === 'extras') out = pruneUnreachable(out);
  let { selection, warnings } = built;
  if (opts.validate !== false) {
    // The gate before anything is written: invalid BTF never leaves here, and a variable whose
    // type cannot be encoded validly is left out (with its reason) rather than failing the object.
    const checked = dropInvalidVariables(out, selection, { prune: mode === 'extras', file: elf.name });
    out = checked.btf;
    selection = checked.selection;
    warnings = [...warnings, ...checked.warnings];
  }
  checkTypeLimit(out.nextId - 1, elf.name);
  const functions = stats.functions;
  const variables = selection.sections.reduce((n, s) => n + s.vars.length, 0);
  return {
    btf: out, selection, warnings,
    stats: {
      ...stats, variables, newTypes: out.types.length - variables - functions - selection.sections.length,
      timings: { ...stats.timings, dedup: dedupMs },
    },
  };
}

/** Everything up to dedup: decode, select, match against the chain, emit the new level. */
function buildLevel(elf: ElfFile, opts: EncodeOptions, mode: EncodeMode): { level: Btf; selection: Selection; warnings: EncoderWarning[]; stats: EncodeStats } {
  const vars = opts.vars ?? (mode === 'extras' ? 'all' : 'percpu');
  const base = opts.base;
  const T0 = performance.now();
  const large = isLarge(elf.bytes);
  const decoded = decodeObject(elf, mode === 'full', opts);
  const { graph, typeOf, variables: rawVariables } = decoded;
  const warnings: EncoderWarning[] = decoded.warnings;
  let fnList = firstPerName(elf, decoded.functions).filter((f) => f.proto !== 0);
  graph.repairMembers();
  // One proto per distinct type: every later step (matching, emission) works on representatives.
  const rep = graph.canonicalize();
  for (const [v, r] of typeOf) typeOf.set(v, rep[r] ?? r);
  fnList = fnList.map((f) => ({ name: f.name, proto: rep[f.proto] ?? f.proto }))
    .filter((f) => graph.proto(f.proto).kind === KIND.FUNC_PROTO); // corrupt DWARF can point elsewhere
  const typeRoots = [...new Set(decoded.roots.map((r) => rep[r] ?? 0))];
  if (large) collectGarbage();
  const T2 = performance.now();
  warnings.push(...graph.warnings);

  const candidates: VariableCandidate[] = rawVariables.map((v) => {
    const ref = typeOf.get(v);
    const size = ref === undefined || ref === 0 ? undefined : graph.byteSize(ref);
    return {
      name: v.name, dieOffset: v.dieOffset, scope: 'file', external: v.external, declaration: v.declaration,
      artificial: v.artificial, address: v.address, size: size === undefined ? undefined : BigInt(size),
      voidType: ref === undefined || ref === 0,
    };
  });
  const inBase = base ? varsOfLevel(base) : undefined;
  const selection = selectVariables(candidates, elfSelectionContext(elf, inBase), { vars, skipInBase: mode === 'extras' });
  const refOfCandidate = new Map<VariableCandidate, ProtoRef>();
  rawVariables.forEach((v, i) => { const r = typeOf.get(v); if (r !== undefined) refOfCandidate.set(candidates[i]!, r); });

  // Roots: in full mode every type DIE and function; always the kept variables' types.
  const matcher = new ChainMatcher(base, graph);
  const level = new Btf({ base, source: elf.name });
  const newId = new Map<ProtoRef, number>();
  const order: ProtoRef[] = [];
  const stack: ProtoRef[] = [];
  let reused = 0;
  const visit = (root: ProtoRef): void => {
    stack.push(root);
    while (stack.length > 0) {
      const r = stack.pop()!;
      if (r === 0 || newId.has(r)) continue;
      if (matcher.resolve(r) !== undefined) { reused++; continue; }
      newId.set(r, -1);
      order.push(r);
      const kids: number[] = [];
      forEachTypeId(graph.proto(r), (k) => { kids.push(k); });
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
    }
  };
  const visitAll = (): void => {
    if (mode === 'full') {
      for (const r of typeRoots) visit(r);
      for (const f of fnList) visit(f.proto);
    }
    for (const sec of selection.sections) for (const v of sec.vars) visit(refOfCandidate.get(v.candidate)!);
  };
  // A later match can resolve a proto visited earlier (its graph matched inside a bigger one):
  // walk again until nothing changes, so no emitted type is one the chain has or nobody uses.
  for (let previous = -1; order.length !== previous;) {
    previous = order.length;
    newId.clear(); order.length = 0; reused = 0;
    visitAll();
    if (base === undefined) break; // without a chain nothing matches later: the first walk is final
  }

  const T3 = performance.now();
  let next = level.startId;
  for (const r of order) newId.set(r, next++);
  const mapRef = (r: ProtoRef): number => (r === 0 ? 0 : newId.get(r) ?? matcher.resolve(r) ?? 0);
  // Strings go into the new level's own table: looking them up in the ancestors would index
  // every vmlinux string (~100 ms) to save a few bytes; dedup, when it runs, reuses them anyway.
  const addStr = (s: string): number => (s === '' ? 0 : level.strings.add(s));
  const strCache = new Int32Array(graph.strings.length).fill(-1);
  const strOf = (i: number): number => {
    const known = strCache[i]!;
    return known >= 0 ? known : (strCache[i] = addStr(graph.strings[i]!));
  };
  // The protos themselves become the level's records (not copies): the graph is dropped after
  // this, and mapRef reads only ids (newId, the matcher's memo), never a proto's fields.
  for (const r of order) {
    const t = graph.proto(r);
    mapTypeIds(t, mapRef);
    mapStrOffs(t, strOf);
    level.addType(t);
  }
  // Functions (full mode, see functions.ts), linkage static as pahole 1.24 writes them;
  // the same name with the same prototype once (what dedup would merge).
  let functions = 0;
  const fnSeen = new Set<string>();
  for (const f of fnList) {
    const type = mapRef(f.proto);
    const key = `${f.name}:${type}`;
    if (fnSeen.has(key)) continue;
    fnSeen.add(key);
    level.addType({ kind: KIND.FUNC, nameOff: addStr(f.name), kflag: false, type, linkage: FUNC_LINKAGE.STATIC });
    functions++;
  }
  let variables = 0;
  for (const sec of selection.sections) {
    const infos: VarSecInfo[] = [];
    for (const v of sec.vars) {
      const id = level.addType({
        kind: KIND.VAR, nameOff: addStr(v.name), kflag: false,
        type: mapRef(refOfCandidate.get(v.candidate)!), linkage: v.linkage,
      });
      infos.push({ type: id, offset: v.offset, size: v.size });
      variables++;
    }
    level.addType({ kind: KIND.DATASEC, nameOff: addStr(sec.name), kflag: false, size: sec.size, vars: infos });
  }

  const T4 = performance.now();
  const timings = { walk: decoded.walkMs, types: T2 - T0 - decoded.walkMs, match: T3 - T2, emit: T4 - T3, dedup: 0, protos: graph.size };
  return {
    level, selection, warnings,
    stats: { candidates: candidates.length, variables, functions, newTypes: 0, reusedFromChain: reused, timings, chunks: decoded.chunks, threads: decoded.threads },
  };
}

/**
 * Walks and decodes (in chunks, on several threads for vmlinux): every variable with an address
 * gets its type; in full mode also every type DIE and qualifying function. The DWARF is out of
 * scope when this returns (and with `releaseDwarf`, the ELF file's detached DWARF sections too):
 * later phases need only the protos.
 */
function decodeObject(elf: ElfFile, full: boolean, opts: EncodeOptions): Decoded {
  const dwarf = Dwarf.fromElf(elf);
  const readable = readableUnits(dwarf);
  // Extras decode only the variables' types: the walk is most of the work and a worker's
  // start-up and duplicate decoding cost more than they save, so one chunk unless asked.
  const chunkBytes = opts.chunkBytes ?? (full ? undefined : Infinity);
  const decoded = decodeUnits(dwarf, elf, readable.starts, readable.warnings, { full, threads: opts.threads, chunkBytes });
  decoded.graph.detachDwarf();
  if (opts.releaseDwarf === true) elf.releaseSections();
  return decoded;
}

/** VAR names per DATASEC name in `btf`'s own level ("already described" for extras). */
export function varsOfLevel(btf: Btf): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  forEachKind(btf, (id, kind) => {
    if (kind !== KIND.DATASEC) return;
    const t = chainType(btf, id);
    if (t.kind !== KIND.DATASEC) return;
    const name = btf.str(t.nameOff);
    let set = out.get(name);
    if (!set) { set = new Set(); out.set(name, set); }
    for (const v of t.vars) {
      if (v.type < 1 || v.type >= btf.nextId) continue;
      const vt = chainType(btf, v.type);
      if (vt.kind === KIND.VAR) set.add(btf.str(vt.nameOff));
    }
  });
  return out;
}

export type { BtfType };
