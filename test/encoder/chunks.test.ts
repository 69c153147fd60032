import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { writeBtf } from '../../src/btf/write.js';
import { Dwarf } from '../../src/dwarf/dwarf.js';
import { ElfFile } from '../../src/elf/index.js';
import { KIND } from '../../src/btf/kinds.js';
import type { BtfType } from '../../src/btf/types.js';
import { decodeChunk, decodeUnits, packProtos, planChunks, unpackProtos } from '../../src/encoder/chunks.js';
import { encodeObject } from '../../src/encoder/encode.js';
import { EncoderError } from '../../src/encoder/errors.js';
import { readableUnits } from '../../src/encoder/walk.js';
import { fixture } from '../support/paths.js';

/** The file in a SharedArrayBuffer, as readObjectForEncoding gives large files (worker threads need it). */
function sharedImage(path: string): { bytes: Uint8Array; sections: Map<number, Uint8Array> } {
  const data = readFileSync(path);
  const bytes = new Uint8Array(new SharedArrayBuffer(data.length));
  bytes.set(data);
  return { bytes, sections: new Map() };
}

describe('encoder/chunks', function () {
  this.timeout(60_000);

  it('planChunks cuts the units into contiguous, balanced chunks whose count depends only on the size', () => {
    const starts = Array.from({ length: 100 }, (_, i) => i * 1000);
    const chunks = planChunks(starts, 100_000, 30_000);
    assert.equal(chunks.length, 3);
    assert.deepEqual(chunks.flat(), starts);
    // chunk 0 (the main thread's, which starts first) is 1.2 times the others
    assert.deepEqual(chunks.map((c) => c.length), [38, 31, 31]);
    assert.equal(planChunks(starts, 100_000, 200_000).length, 1);
    assert.deepEqual(planChunks([0, 60], 100, 1), [[0], [60]]);
    assert.deepEqual(planChunks([0, 10], 100, 1), [[0, 10]], 'a cut falls only where a unit starts past the target');
    assert.deepEqual(planChunks([], 0, 1), [[]]);
  });

  it('gives the same bytes with one thread or two, and with the worker thread doing half the units', () => {
    const path = fixture('kernel/debug/loop.ko');
    for (const mode of ['full', 'extras'] as const) {
      const one = encodeObject(path, { mode, threads: 1, chunkBytes: 1 }, sharedImage(path));
      const two = encodeObject(path, { mode, threads: 2, chunkBytes: 1 }, sharedImage(path));
      assert.equal(one.stats.chunks, 2);
      assert.equal(one.stats.threads, 1);
      assert.equal(two.stats.threads, 2, 'the second chunk ran on a worker');
      assert.ok(one.btf.types.length > 0);
      assert.deepEqual(writeBtf(two.btf), writeBtf(one.btf), `${mode}: threads changed the output`);
    }
  });

  it('packs protos into words and back exactly, and refuses records that do not fit 32-bit fields', () => {
    const path = fixture('kernel/debug/loop.ko');
    const elf = ElfFile.fromBytes(readFileSync(path), path);
    const dwarf = Dwarf.fromElf(elf);
    const { starts } = readableUnits(dwarf);
    const { data } = decodeChunk(dwarf, elf, starts, starts, { functions: new Set(['loop_add']), aliases: new Set() });
    assert.ok(data.protos.length > 100);
    const words = packProtos(data.protos)!;
    assert.deepEqual(unpackProtos(words), data.protos);
    const huge: BtfType = { kind: KIND.STRUCT, nameOff: 0, kflag: false, size: 2 ** 33, members: [] };
    assert.equal(packProtos([...data.protos, huge]), undefined, 'a 2^33-byte struct (corrupt DWARF) is sent as records');
    const wide: BtfType = { kind: KIND.ENUM, nameOff: 0, kflag: true, size: 4, values: [{ nameOff: 0, value: 0xffffffff }] };
    assert.equal(packProtos([wide]), undefined, 'a signed enum value outside int32');
  });

  it('on corrupted DWARF, a worker gives what the main thread gives: the same bytes and warnings, or the same error', () => {
    const path = fixture('encoder/vars-dwarf5.o');
    const orig = readFileSync(path);
    const info = ElfFile.fromBytes(orig, path).section('.debug_info')!;
    let seed = 7;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    const outcome = (bytes: Uint8Array, threads: number): string => {
      const image = new Uint8Array(new SharedArrayBuffer(bytes.length));
      image.set(bytes);
      try {
        const r = encodeObject('corrupt.o', { mode: 'full', threads, chunkBytes: 1 }, { bytes: image, sections: new Map() });
        assert.equal(r.stats.chunks, 2);
        assert.equal(r.stats.threads, threads);
        return `${Buffer.from(writeBtf(r.btf)).toString('hex')} ${JSON.stringify(r.warnings)}`;
      } catch (e) {
        assert.ok(e instanceof EncoderError, e instanceof Error ? e.stack : String(e));
        return `error ${e.code}`;
      }
    };
    let warned = 0;
    for (let i = 0; i < 20; i++) {
      const bytes = new Uint8Array(orig);
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) bytes[info.offset + Math.floor(rnd() * info.size)] = Math.floor(rnd() * 256);
      const one = outcome(bytes, 1);
      assert.equal(outcome(bytes, 2), one, `corruption ${i}`);
      if (/dieOffset/.test(one)) warned++;
    }
    assert.ok(warned > 0, 'some corruptions gave warnings (the worker\'s reach the result too)');
  });

  it('a module is one chunk, whatever the thread count', () => {
    const path = fixture('kernel/debug/loop.ko');
    const r = encodeObject(path, { mode: 'full', threads: 4 }, sharedImage(path));
    assert.equal(r.stats.chunks, 1);
    assert.equal(r.stats.threads, 1);
  });

  /** Decodes loop.ko in 2 chunks with a broken worker; what comes back must equal one thread's decoding. */
  function assertMainThreadTakesOver(workerUrl: URL, limits: { workerStartMs?: number; workerStallMs?: number }): void {
    const path = fixture('kernel/debug/loop.ko');
    const elf = ElfFile.fromBytes(sharedImage(path).bytes, path);
    const dwarf = Dwarf.fromElf(elf);
    const { starts } = readableUnits(dwarf);
    const good = decodeUnits(dwarf, elf, starts, [], { full: true, threads: 1, chunkBytes: 1 });
    const t0 = Date.now();
    const fallback = decodeUnits(dwarf, elf, starts, [], { full: true, threads: 2, chunkBytes: 1, workerUrl, ...limits });
    assert.ok(Date.now() - t0 < 10_000, 'no hang');
    assert.equal(fallback.chunks, 2);
    assert.equal(fallback.graph.size, good.graph.size);
    assert.deepEqual(fallback.roots, good.roots);
    assert.deepEqual(fallback.variables.map((v) => v.dieOffset), good.variables.map((v) => v.dieOffset));
  }

  it('decodes on the main thread the chunks of a worker that never starts', () => {
    assertMainThreadTakesOver(new URL('data:text/javascript,await new Promise(() => {})'), { workerStartMs: 200 });
  });

  it('decodes on the main thread the chunks of a worker that starts and then stalls (never hangs)', () => {
    // says it runs, then never finishes a unit (what a worker stopped by V8 for lack of heap looks like)
    const stalls = new URL(`data:text/javascript,${encodeURIComponent(
      "import { workerData } from 'node:worker_threads'; Atomics.store(workerData.state, 0, 1); Atomics.notify(workerData.state, 0); await new Promise(() => {});")}`);
    assertMainThreadTakesOver(stalls, { workerStallMs: 150 });
  });
});
