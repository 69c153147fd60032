import { strict as assert } from 'node:assert';
import { Worker } from 'node:worker_threads';
import { ElfFile } from '../../src/elf/index.js';
import { collectVariables, Dwarf } from '../../src/dwarf/index.js';
import { fixture } from '../support/paths.js';

const summary = (elf: ElfFile): string[] => collectVariables(Dwarf.fromElf(elf)).variables
  .map((v) => `${v.name} ${v.sectionName} ${v.offset} ${v.size} ${v.cType}`);

describe('ElfFile.open(path, { shared: true })', () => {
  it('reads into a SharedArrayBuffer and decodes exactly as the plain read does', () => {
    for (const f of ['kernel/debug/tcp_bbr.ko', 'elf/vars-gz.o', 'elf/vars-dwarf5.exec']) {
      const shared = ElfFile.open(fixture(f), { shared: true });
      assert.ok(shared.bytes.buffer instanceof SharedArrayBuffer);
      const plain = ElfFile.open(fixture(f));
      assert.deepEqual(summary(shared), summary(plain), f);
      assert.equal(shared.buildId, plain.buildId);
    }
  });

  it('hands the bytes to a worker thread without copying the file', async () => {
    const elf = ElfFile.open(fixture('kernel/debug/loop.ko'), { shared: true });
    const elfUrl = new URL('../../src/elf/index.js', import.meta.url).href;
    const dwarfUrl = new URL('../../src/dwarf/index.js', import.meta.url).href;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { ElfFile } = await import(workerData.elfUrl);
        const { Dwarf, collectVariables } = await import(workerData.dwarfUrl);
        workerData.bytes[0] = workerData.bytes[0]; // same memory, no copy
        const n = collectVariables(Dwarf.fromElf(ElfFile.fromBytes(workerData.bytes, 'loop.ko'))).variables.length;
        parentPort.postMessage(n);
      })().catch((e) => parentPort.postMessage(String(e)));`;
    const n = await new Promise<unknown>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { bytes: elf.bytes, elfUrl, dwarfUrl } });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    assert.equal(n, 1 + 46 + 7);
  });
});
