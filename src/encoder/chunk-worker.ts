/**
 * Worker thread entry: decodes the chunks it is given (see chunks.ts) from the shared file bytes
 * and posts each chunk's plain data back; sets `state` to 1 when it runs and to 2 when every
 * message is posted (the main thread waits on it synchronously).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { Dwarf } from '../dwarf/dwarf.js';
import { ElfFile } from '../elf/index.js';
import { decodeChunk, packProtos } from './chunks.js';

interface Job {
  readonly bytes: Uint8Array;
  readonly sections: [number, Uint8Array][];
  readonly name: string;
  readonly starts: number[];
  readonly chunks: [number, number[]][];
  /** Full mode: the FUNC symbol names, '\n'-separated (one string clones faster than a Set). */
  readonly functionNames: string | undefined;
  /** Possible alias names (chunks.ts ChunkSymbols), '\n'-separated. */
  readonly aliasNames: string;
  readonly state: Int32Array;
  readonly port: MessagePort;
}

const job = workerData as Job;
Atomics.store(job.state, 0, 1);
Atomics.notify(job.state, 0);
try {
  const elf = ElfFile.fromBytes(job.bytes, job.name, new Map(job.sections));
  const dwarf = Dwarf.fromElf(elf);
  const names = {
    functions: job.functionNames === undefined ? undefined : new Set(job.functionNames.split('\n')),
    aliases: new Set(job.aliasNames === '' ? [] : job.aliasNames.split('\n')),
  };
  for (const [chunk, starts] of job.chunks) {
    const { data } = decodeChunk(dwarf, elf, job.starts, starts, names, () => { Atomics.add(job.state, 1, 1); });
    const packed = packProtos(data.protos);
    if (packed === undefined) job.port.postMessage({ chunk, data, packed });
    else job.port.postMessage({ chunk, data: { ...data, protos: [] }, packed }, [packed.buffer]);
  }
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  job.port.postMessage({ error: { message: err.message, stack: err.stack } });
} finally {
  Atomics.store(job.state, 0, 2);
  Atomics.notify(job.state, 0);
}
