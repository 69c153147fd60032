/**
 * Issue 13 class 2: a cache entry whose header and checksum are consistent but whose payload is
 * wrong must never be published as a hit. The real BTF library checks the payload; the fake
 * encoder hands back the real extras when the entry is regenerated.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KIND } from '../../src/btf/kinds.js';
import { parseBtf } from '../../src/btf/parse.js';
import { libraryBtfOps } from '../../src/daemon/btf-ops.js';
import { ExtrasCache, extrasCacheKey } from '../../src/daemon/cache.js';
import { BUNDLED_CLI, type EncodeRequest, type ExtrasEncoder } from '../../src/daemon/encoder.js';
import { fixtureSet, newRoot, startDaemon, type Harness } from './harness.js';

const RUN = 'run/btf-extra';
const HDR_TYPE_OFF = 8;

/** Byte offset of each type record of a raw level, with its kind. */
function records(bytes: Uint8Array, base: ReturnType<typeof parseBtf>): { at: number; kind: number }[] {
  const level = parseBtf(bytes, { base });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, true);
  const typeOff = dv.getUint32(HDR_TYPE_OFF, true);
  const out: { at: number; kind: number }[] = [];
  const raw = level.rawTypes;
  if (!raw) throw new Error('no raw types');
  for (const w of raw.offs) {
    const at = hdrLen + typeOff + w * 4;
    out.push({ at, kind: (dv.getUint32(at + 4, true) >>> 24) & 0x1f });
  }
  return out;
}

/** Copy of `extras` with the first VAR's type replaced by `typeId`. */
function withVarType(extras: Uint8Array, base: ReturnType<typeof parseBtf>, typeId: number): Buffer {
  const copy = Buffer.from(extras);
  const v = records(copy, base).find((r) => r.kind === KIND.VAR);
  if (!v) throw new Error('no VAR');
  copy.writeUInt32LE(typeId, v.at + 8);
  return copy;
}

describe('daemon: cache hits are validated like fresh encodes (forged entries)', function () {
  this.timeout(120000);
  const fx = fixtureSet();
  const dir = mkdtempSync(join(tmpdir(), 'btfx-forge-'));
  const extrasOf: Record<string, Buffer> = {};
  const started: Harness[] = [];
  afterEach(async () => { for (const h of started.splice(0)) await h.daemon.stop(); });

  before(function () {
    writeFileSync(join(dir, 'vmlinux'), fx.vmlinuxBtf);
    for (const m of ['loop', 'crc7']) {
      const mod = fx.modules.get(m);
      if (!mod?.debugFile) { this.skip(); return; }
      const out = join(dir, `${m}.extras`);
      const r = spawnSync(process.execPath, [BUNDLED_CLI, 'encode', mod.debugFile, '--base', join(dir, 'vmlinux'), '--base', mod.btfFile, '--vars', 'all', '-o', out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      extrasOf[m] = readFileSync(out);
    }
  });

  /** Hands back the real extras of the module whose debug file it is given. */
  class RealBytesEncoder implements ExtrasEncoder {
    readonly calls: string[] = [];
    encode(req: EncodeRequest): Promise<Uint8Array> {
      const name = (req.debugFile.split('/').pop() ?? '').replace(/\.ko.*$/, '');
      this.calls.push(name);
      const b = extrasOf[name];
      return b ? Promise.resolve(b) : Promise.reject(new Error(`no extras for ${name}`));
    }
  }

  const vmlinuxLevel = (): ReturnType<typeof parseBtf> => parseBtf(fx.vmlinuxBtf);
  const loopBtf = (): Buffer => readFileSync(fx.modules.get('loop')?.btfFile ?? '');
  const loopChain = (): ReturnType<typeof parseBtf> => parseBtf(loopBtf(), { base: vmlinuxLevel() });
  const firstFuncInVmlinux = (): number => {
    const vm = vmlinuxLevel();
    for (let id = 1; id < vm.nextId; id++) if (vm.type(id).kind === KIND.FUNC) return id;
    throw new Error('no FUNC');
  };

  const forgeries: [string, () => Buffer][] = [
    ['another module\'s extras (crc7\'s bytes under loop)', () => extrasOf['crc7'] ?? Buffer.alloc(0)],
    ['a VAR whose type points past the end', () => withVarType(extrasOf['loop'] ?? Buffer.alloc(0), loopChain(), 0x7fffff)],
    ['a VAR whose type points at a FUNC', () => withVarType(extrasOf['loop'] ?? Buffer.alloc(0), loopChain(), firstFuncInVmlinux())],
  ];
  for (const [what, forge] of forgeries) {
    it(`${what}: discarded with a warning (code cache-invalid), regenerated, the real extras published`, async () => {
      const root = newRoot();
      root.load('loop');
      const enc = new RealBytesEncoder();
      const cfg = { config: { policy: { default: 'always', rules: [{ match: 'vmlinux', policy: 'never' }] } } };
      const first = await startDaemon(root, { encoder: enc, btf: libraryBtfOps, ...cfg });
      started.push(first);
      assert.deepEqual(enc.calls, ['loop']);
      await first.daemon.stop();
      started.splice(0);

      // A forged entry: header and sha256 consistent with the payload, the recorded VAR count too.
      const forged = forge();
      const key = extrasCacheKey({ release: fx.release, name: 'loop', buildId: fx.modules.get('loop')?.buildId, chain: [fx.vmlinuxBtf, loopBtf()], encoderVersion: 'enc-1', vars: 'all' });
      const cache = new ExtrasCache(join(root.dir, 'var/cache/btf-extra/extras'));
      let forgedVars = 30;
      try { forgedVars = libraryBtfOps.inspect(forged, [fx.vmlinuxBtf, loopBtf()]).vars; } catch { /* invalid: keep the real count */ }
      cache.put(key, forged, { vars: forgedVars });
      assert.equal(cache.get(key).kind, 'hit', 'the forged entry passes the header and checksum checks');

      const enc2 = new RealBytesEncoder();
      const second = await startDaemon(root, { encoder: enc2, btf: libraryBtfOps, ...cfg });
      started.push(second);
      assert.deepEqual(enc2.calls, ['loop'], 'regenerated');
      const s = second.daemon.status().objects.find((o) => o.name === 'loop');
      assert.equal(s?.state, 'published');
      assert.equal(s?.source, 'encoder');
      assert.equal(s?.code, 'cache-invalid');
      assert.match(s?.reason ?? '', /^cache entry discarded: payload rejected: /);
      assert.ok(second.logLines.some((l) => /warning.*loop: discard cache entry .*\[cache-invalid\]/i.test(l) || /loop: discard cache entry .*\[cache-invalid\]/.test(l)), second.logLines.join('\n'));
      assert.deepEqual(readFileSync(join(root.dir, RUN, 'btf/loop-btf-extra')), extrasOf['loop']);
      // The regenerated entry replaced the forged one.
      const again = cache.get(key);
      assert.ok(again.kind === 'hit' && Buffer.compare(Buffer.from(again.bytes), extrasOf['loop'] ?? Buffer.alloc(0)) === 0);
    });
  }
});
