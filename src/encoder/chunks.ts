/**
 * The walk and type decoding of a large object, cut into chunks that can run on several threads.
 *
 * A chunk is a contiguous range of units decoded into its own ProtoGraph, sharing nothing with
 * the others; the chunks' graphs are then appended in chunk order and canonicalize() merges the
 * types they have in common. The cut depends only on the input (the size of .debug_info), never
 * on how many threads run, so the output is the same bytes with one thread or many: threads only
 * change who decodes a chunk. Objects below CHUNK_BYTES of .debug_info (every module) are one
 * chunk on one thread.
 *
 * Threads: the main thread decodes chunk 0 while worker threads (chunk-worker.ts) decode the
 * rest of a file read into a SharedArrayBuffer (no copy). encodeElf is synchronous, so the main
 * thread waits with Atomics.wait and takes the results with receiveMessageOnPort. A worker that
 * does not start in time is terminated and its chunks are decoded on the main thread.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { BTF_MAX_VLEN, KIND, decodeType, encodeType, encodedSize, forEachTypeId, mapStrOffs, vlenOf, type Kind } from '../btf/kinds.js';
import type { BtfType } from '../btf/types.js';
import type { Dwarf } from '../dwarf/dwarf.js';
import type { ElfFile } from '../elf/index.js';
import type { EncoderWarning } from './errors.js';
import { functionQualifies, functionSymbolNames } from './functions.js';
import { ProtoGraph, UnitIndex, type ProtoRef } from './proto.js';
import { aliasSymbolNames, walkUnits, type RawVariable } from './walk.js';

/** Chunks are at least this much .debug_info (a 156 MiB vmlinux .debug_info -> 2 chunks). */
export const CHUNK_BYTES = 64 << 20;

/** How long a worker may take to start before its chunks are decoded on the main thread. */
const WORKER_START_MS = 20_000;
/**
 * How long a running worker may go without finishing a unit before it is taken for dead (a worker
 * stopped by V8 for running out of heap never says so) and its chunks are decoded here. A unit
 * takes milliseconds.
 */
const WORKER_STALL_MS = 60_000;

export interface ChunkOptions {
  readonly full: boolean;
  /** Threads to use, the main one included (default: the machine's available parallelism). */
  readonly threads?: number | undefined;
  /** Minimum .debug_info bytes per chunk (tests make it small to get several chunks). */
  readonly chunkBytes?: number | undefined;
  /** The worker script (tests point it at one that never starts or stalls), how long it may take to start or stall. */
  readonly workerUrl?: URL | undefined;
  readonly workerStartMs?: number | undefined;
  readonly workerStallMs?: number | undefined;
}

/** What one chunk yields, as plain data (what a worker posts back). */
export interface ChunkData {
  /** The chunk's protos (refs local to the chunk: index + 1), names indexing `strings`. */
  readonly protos: BtfType[];
  readonly dieOf: number[];
  readonly strings: string[];
  /** Walk warnings, then decoding warnings. */
  readonly walkWarnings: EncoderWarning[];
  readonly graphWarnings: EncoderWarning[];
  /** Every variable of the chunk in DIE order, with its type's proto (undefined: no address or no type). */
  readonly variables: RawVariable[];
  readonly variableRefs: (ProtoRef | undefined)[];
  /** Names of the functions that qualify for encoding (see functions.ts), in DIE order, with their prototype's proto. */
  readonly functionNames: string[];
  readonly functionRefs: ProtoRef[];
  /** The protos of CU-level and function-local type DIEs (full mode), each once, first seen first. */
  readonly roots: ProtoRef[];
  readonly walkMs: number;
}

export interface Decoded {
  /** The merged graph (chunk 0's, with the others appended); not yet canonicalized. */
  readonly graph: ProtoGraph;
  readonly chunks: number;
  readonly threads: number;
  /** Walk warnings (the graph's are in graph.warnings, every chunk's in chunk order). */
  readonly warnings: EncoderWarning[];
  readonly variables: RawVariable[];
  readonly typeOf: Map<RawVariable, ProtoRef>;
  readonly functions: { name: string; proto: ProtoRef }[];
  readonly roots: ProtoRef[];
  /** The slowest chunk's walk time (chunks run side by side). */
  readonly walkMs: number;
}

/**
 * Unit starts cut into chunks of at least `chunkBytes` of .debug_info each, balanced, except
 * that chunk 0 is FIRST_SHARE times the others: the main thread decodes it while the workers are
 * still starting.
 */
export function planChunks(starts: readonly number[], infoLength: number, chunkBytes: number): number[][] {
  if (starts.length === 0) return [[]];
  const count = Math.max(1, Math.min(starts.length, Math.floor(infoLength / Math.max(1, chunkBytes))));
  const other = infoLength / (count - 1 + FIRST_SHARE);
  const cut = (k: number): number => other * (FIRST_SHARE + k - 1); // where chunk k starts
  const chunks: number[][] = [[]];
  for (const s of starts) {
    if (chunks.length < count && s >= cut(chunks.length) && chunks[chunks.length - 1]!.length > 0) chunks.push([]);
    chunks[chunks.length - 1]!.push(s);
  }
  return chunks;
}

const FIRST_SHARE = 1.2;

/** The symbol names decoding needs (parsed once, on the main thread). */
export interface ChunkSymbols {
  /** The object's FUNC symbols, only in full mode, where functions are encoded too. */
  readonly functions: ReadonlySet<string> | undefined;
  /** Object symbols that may be aliases (walk.ts aliasSymbolNames): their declarations' types are decoded too. */
  readonly aliases: ReadonlySet<string>;
}

/** Walks and decodes the units of one chunk into a fresh graph. */
export function decodeChunk(
  dwarf: Dwarf, elf: ElfFile, allStarts: readonly number[], chunk: readonly number[], symbols: ChunkSymbols,
  onUnitDone?: () => void,
): { graph: ProtoGraph; data: ChunkData } {
  const symbolNames = symbols.functions;
  const full = symbolNames !== undefined;
  const graph = new ProtoGraph(dwarf, new UnitIndex(dwarf, allStarts));
  const variables: RawVariable[] = [];
  const variableRefs: (ProtoRef | undefined)[] = [];
  const functionNames: string[] = [];
  const functionRefs: ProtoRef[] = [];
  const roots: ProtoRef[] = [];
  let seen = new Uint8Array(1 << 16); // roots seen, by proto ref
  const qualifies = symbolNames === undefined ? undefined : functionQualifies(symbolNames);
  let typesMs = 0;
  const t0 = performance.now();
  const walk = walkUnits(dwarf, elf, {
    full,
    onUnit: (start, part) => {
      const t = performance.now();
      graph.enterUnit(start);
      for (const v of part.variables) {
        variables.push(v);
        const wanted = v.address !== undefined || (v.declaration && v.name !== undefined && symbols.aliases.has(v.name));
        variableRefs.push(wanted && v.typeDie !== undefined ? graph.ref(v.typeDie) : undefined);
      }
      for (const off of part.typeDies) {
        const r = graph.ref(off);
        if (r >= seen.length) { const g = new Uint8Array(Math.max(r + 1, seen.length * 2)); g.set(seen); seen = g; }
        if (seen[r] === 0) { seen[r] = 1; roots.push(r); }
      }
      if (qualifies) {
        for (const fn of part.functions) {
          if (!qualifies(fn)) continue;
          functionNames.push(fn.name);
          functionRefs.push(graph.ref(fn.protoDie));
        }
      }
      typesMs += performance.now() - t;
      onUnitDone?.();
    },
  }, { starts: [...chunk], warnings: [] });
  const walkMs = performance.now() - t0 - typesMs;
  graph.drain();
  return {
    graph,
    data: {
      protos: graph.protos, dieOf: graph.dieOf, strings: graph.strings, walkWarnings: walk.warnings, graphWarnings: graph.warnings,
      variables, variableRefs, functionNames, functionRefs, roots, walkMs,
    },
  };
}

/**
 * Walks and decodes every readable unit (`starts`), on several threads when the object is big
 * enough for more than one chunk and its bytes are shared.
 */
export function decodeUnits(dwarf: Dwarf, elf: ElfFile, starts: readonly number[], startWarnings: readonly EncoderWarning[], opts: ChunkOptions): Decoded {
  const chunks = planChunks(starts, dwarf.info.length, opts.chunkBytes ?? CHUNK_BYTES);
  const shared = elf.bytes.buffer instanceof SharedArrayBuffer;
  const wanted = Math.floor(opts.threads ?? availableParallelism());
  const threads = shared && Number.isFinite(wanted) ? Math.max(1, Math.min(chunks.length, wanted)) : 1;
  // Parsed once here; workers get the names, not the symbol table (150k symbols for vmlinux).
  const names: ChunkSymbols = { functions: opts.full ? functionSymbolNames(elf) : undefined, aliases: aliasSymbolNames(elf) };
  const workers: WorkerHandle[] = [];
  for (let w = 1; w < threads; w++) {
    const mine = chunks.map((_, c) => c).filter((c) => c % threads === w);
    workers.push(startWorker(elf, starts, chunks, mine, names, opts));
  }
  const results: ChunkData[] = new Array<ChunkData>(chunks.length);
  let graph: ProtoGraph | undefined;
  for (let c = 0; c < chunks.length; c++) {
    if (c % threads !== 0) continue;
    const r = decodeChunk(dwarf, elf, starts, chunks[c]!, names);
    if (c === 0) graph = r.graph;
    results[c] = r.data;
  }
  for (const w of workers) {
    for (const [c, data] of finishWorker(w, opts.workerStartMs ?? WORKER_START_MS, opts.workerStallMs ?? WORKER_STALL_MS)) results[c] = data;
    for (const c of w.chunks) if (results[c] === undefined) results[c] = decodeChunk(dwarf, elf, starts, chunks[c]!, names).data;
  }
  // Merge in chunk order.
  const g = graph!;
  let walkMs = 0;
  const out: Omit<Decoded, 'walkMs'> = {
    graph: g, chunks: chunks.length, threads, warnings: [...startWarnings], variables: [], typeOf: new Map(), functions: [], roots: [],
  };
  results.forEach((data, c) => {
    const shift = c === 0 ? identity : g.absorb(data);
    out.warnings.push(...data.walkWarnings);
    if (c !== 0) g.warnings.push(...data.graphWarnings);
    data.variables.forEach((v, i) => {
      out.variables.push(v);
      const r = data.variableRefs[i];
      if (r !== undefined) out.typeOf.set(v, shift(r));
    });
    data.functionNames.forEach((name, i) => out.functions.push({ name, proto: shift(data.functionRefs[i]!) }));
    for (const r of data.roots) out.roots.push(shift(r));
    walkMs = Math.max(walkMs, data.walkMs);
  });
  return { ...out, walkMs };
}

const identity = (r: ProtoRef): ProtoRef => r;

/**
 * A chunk's protos as BTF type words (names and refs stay string indexes and proto refs): a
 * worker transfers one buffer instead of having ~35k records cloned, which cost the main thread
 * ~80 ms and a second copy of the data at the moment both heaps are largest. Undefined when a
 * record does not fit the 32-bit fields (corrupt DWARF): then the records themselves are sent.
 */
export function packProtos(protos: readonly BtfType[]): Uint32Array<ArrayBuffer> | undefined {
  let bytes = 0;
  for (const t of protos) {
    if (!packable(t)) return undefined;
    bytes += encodedSize(t);
  }
  const words = new Uint32Array(bytes >>> 2);
  let p = 0;
  for (const t of protos) p = encodeType(t, words, p);
  return words;
}

/** packProtos' records back. */
export function unpackProtos(words: Uint32Array): BtfType[] {
  const out: BtfType[] = [];
  for (let p = 0; p < words.length;) {
    const info = words[p + 1]!;
    const t = decodeType(words, p, ((info >>> 24) & 0x1f) as Exclude<Kind, 0>, info >>> 31 === 1, info & 0xffff);
    if (typeof t === 'string') throw new Error(`encoder worker: packed proto ${out.length}: ${t}`);
    out.push(t);
    p += encodedSize(t) >>> 2;
  }
  return out;
}

const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function packable(t: BtfType): boolean {
  if (vlenOf(t) > BTF_MAX_VLEN) return false;
  let ok = true;
  forEachTypeId(t, (id) => { ok &&= isU32(id); });
  mapStrOffs(t, (s) => { ok &&= isU32(s); return s; });
  switch (t.kind) {
    case KIND.INT: return ok && isU32(t.size) && t.encoding >= 0 && t.encoding < 16 && t.bits >= 0 && t.bits < 256 && t.bitOffset === 0;
    case KIND.STRUCT: case KIND.UNION: return ok && isU32(t.size) && t.members.every((m) => isU32(m.offset));
    case KIND.ENUM: return ok && isU32(t.size) && t.values.every((v) => (t.kflag ? (v.value | 0) === v.value : (v.value >>> 0) === v.value));
    case KIND.ENUM64: case KIND.FLOAT: return ok && isU32(t.size);
    case KIND.ARRAY: return ok && isU32(t.nelems);
    case KIND.PTR: case KIND.TYPEDEF: case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
    case KIND.FWD: case KIND.FUNC_PROTO:
      return ok;
    default: return false;
  }
}

interface WorkerHandle {
  readonly worker: Worker | undefined;
  readonly port: MessagePort;
  /** [0]: 0 starting, 1 running, 2 finished (every result posted); [1]: units decoded so far. */
  readonly state: Int32Array;
  readonly chunks: readonly number[];
}

function startWorker(elf: ElfFile, starts: readonly number[], chunks: readonly (readonly number[])[], mine: number[], names: ChunkSymbols, opts: ChunkOptions): WorkerHandle {
  const { port1, port2 } = new MessageChannel();
  const state = new Int32Array(new SharedArrayBuffer(8));
  let worker: Worker | undefined;
  try {
    worker = new Worker(opts.workerUrl ?? new URL('./chunk-worker.js', import.meta.url), {
      workerData: { bytes: elf.bytes, sections: [...elf.detachedSections], name: elf.name, starts, chunks: mine.map((c) => [c, chunks[c]]),
        functionNames: names.functions === undefined ? undefined : [...names.functions].join('\n'),
        aliasNames: [...names.aliases].join('\n'), state, port: port2 },
      transferList: [port2],
      // A smaller young generation than V8's default: ~12 MB less peak RSS for vmlinux, no slower.
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
    });
    worker.unref();
    // An error the worker cannot report itself (failing to load) must not crash the process: its chunks are redone here.
    worker.on('error', () => undefined);
  } catch {
    worker = undefined;
  }
  return { worker, port: port1, state, chunks: mine };
}

/**
 * Waits for a worker and takes its results; the chunks of a worker that did not start, or that
 * stalled (no unit finished within two waits of `stallMs`), are left for the caller, which
 * decodes them itself.
 */
function finishWorker(w: WorkerHandle, startMs: number, stallMs: number): [number, ChunkData][] {
  const out: [number, ChunkData][] = [];
  if (w.worker === undefined) return out;
  let alive = Atomics.wait(w.state, 0, 0, startMs) !== 'timed-out' || Atomics.load(w.state, 0) !== 0;
  for (let progress = -1; alive && Atomics.load(w.state, 0) === 1;) {
    if (Atomics.wait(w.state, 0, 1, stallMs) !== 'timed-out') continue;
    const now = Atomics.load(w.state, 1);
    if (now === progress) alive = false;
    progress = now;
  }
  if (!alive) void w.worker.terminate();
  for (let m = receiveMessageOnPort(w.port); m !== undefined; m = receiveMessageOnPort(w.port)) {
    const msg = m.message as { chunk: number; data: ChunkData; packed: Uint32Array | undefined } | { error: { message: string; stack?: string } };
    if ('error' in msg) {
      const e = new Error(`encoder worker failed: ${msg.error.message}`);
      if (msg.error.stack !== undefined) e.stack = msg.error.stack;
      w.port.close();
      throw e;
    }
    out.push([msg.chunk, msg.packed === undefined ? msg.data : { ...msg.data, protos: unpackProtos(msg.packed) }]);
  }
  w.port.close();
  return out;
}
