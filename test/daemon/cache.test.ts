import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ExtrasCache, sha256Hex, type CacheKey } from '../../src/daemon/cache.js';

const key: CacheKey = { release: '6.1.0-56-cloud-amd64', name: 'loop', buildId: '88465abd', baseDigest: 'a'.repeat(64), encoderVersion: '0.1.0' };
const payload = new Uint8Array([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 1, 2, 3, 4]);

describe('daemon/cache', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'btfx-cache-')); });

  it('miss, then put, then hit with the same bytes and metadata', () => {
    const c = new ExtrasCache(dir);
    assert.deepEqual(c.get(key), { kind: 'miss' });
    c.put(key, payload, { vars: 7, debuginfo: '/usr/lib/debug/x.ko' });
    const r = c.get(key);
    assert.equal(r.kind, 'hit');
    assert.ok(r.kind === 'hit');
    assert.deepEqual([...r.bytes], [...payload]);
    assert.equal(r.meta.vars, 7);
    assert.equal(r.meta.sha256, sha256Hex(payload));
    assert.equal(readdirSync(dirname(r.file)).length, 1, 'no temp files left');
  });

  it('each key part changes the entry: release, build id, base digest, encoder version', () => {
    const c = new ExtrasCache(dir);
    c.put(key, payload);
    for (const k of ['release', 'buildId', 'baseDigest', 'encoderVersion', 'name'] as const) {
      assert.deepEqual(c.get({ ...key, [k]: `${key[k]}x`.replace(/^a+x$/, 'b'.repeat(64)) }), { kind: 'miss' }, k);
    }
  });

  const corrupt = (name: string, mutate: (b: Buffer) => Buffer, reason: RegExp) => {
    it(`a corrupt entry (${name}) is detected, deleted and reported`, () => {
      const c = new ExtrasCache(dir);
      const file = c.put(key, payload);
      writeFileSync(file, mutate(readFileSync(file)));
      const r = c.get(key);
      assert.equal(r.kind, 'corrupt');
      assert.ok(r.kind === 'corrupt');
      assert.match(r.reason, reason);
      assert.ok(!existsSync(file));
      assert.deepEqual(c.get(key), { kind: 'miss' });
    });
  };
  corrupt('bad magic', (b) => { b[0] = 0x58; return b; }, /magic/);
  corrupt('truncated payload', (b) => b.subarray(0, b.length - 3), /payload is 9 bytes, header says 12/);
  corrupt('flipped payload byte', (b) => { b.writeUInt8(b.readUInt8(b.length - 1) ^ 0xff, b.length - 1); return b; }, /sha256/);
  corrupt('header not JSON', () => Buffer.concat([Buffer.from('BTFXCACHE1\n{oops\n'), payload]), /not JSON/);
  corrupt('header of another key', (b) => Buffer.from(b.toString('latin1').replace('"buildId":"88465abd"', '"buildId":"00000000"'), 'latin1'), /buildId does not match/);
  corrupt('no header line end', () => Buffer.from('BTFXCACHE1\n{"a":1}'), /not terminated/);

  it('a payload the validator rejects is corrupt (parse failure)', () => {
    const c = new ExtrasCache(dir, (bytes) => { if (bytes[0] !== 0x9f) throw new Error('bad magic 0x0'); });
    c.put(key, new Uint8Array([0, 1, 2]));
    const r = c.get(key);
    assert.ok(r.kind === 'corrupt' && /does not parse: bad magic/.test(r.reason));
  });

  it('prune removes stale entries of the same object only', () => {
    const c = new ExtrasCache(dir);
    c.put({ ...key, buildId: 'old' }, payload);
    c.put({ ...key, encoderVersion: '0.0.9' }, payload);
    c.put({ ...key, name: 'crc7' }, payload);
    c.put(key, payload);
    assert.equal(c.prune(key), 2);
    assert.equal(c.get(key).kind, 'hit');
    assert.equal(c.get({ ...key, name: 'crc7' }).kind, 'hit');
  });

  it('pruneReleases keeps the current kernel and the two most recent others', () => {
    const c = new ExtrasCache(dir);
    const t = Date.now() / 1000;
    ['5.10', '6.0', '6.1', '6.2'].forEach((release, i) => {
      c.put({ ...key, release }, payload);
      utimesSync(join(dir, release), t - 100 + i, t - 100 + i);
    });
    assert.deepEqual(c.pruneReleases('5.10'), ['6.0']);
    assert.deepEqual(readdirSync(dir).sort(), ['5.10', '6.1', '6.2']);
    assert.deepEqual(new ExtrasCache(join(dir, 'absent')).pruneReleases('x'), []);
  });

  it('hostile key parts cannot escape the cache directory', () => {
    const c = new ExtrasCache(dir);
    const file = c.fileFor({ ...key, name: '../../etc/passwd', release: '..' });
    assert.ok(file.startsWith(`${dir}/`) && !file.includes('..'), file);
  });
});
