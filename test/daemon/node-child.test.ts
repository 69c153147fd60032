/**
 * The daemon's Node children started by hand: both say what starts them and exit 2 (the IPC side
 * of node-child.ts; the pool's tests cover setpriv --pdeathsig and the exit on a closed pipe).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('daemon/node-child', () => {
  for (const child of ['encoder-child', 'merge-child']) {
    it(`${child} started without an IPC channel exits 2 and says who starts it`, () => {
      const script = fileURLToPath(new URL(`../../src/daemon/${child}.js`, import.meta.url));
      const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2);
      assert.equal(r.stderr, `${child}: started without an IPC channel (btf-extrad starts it)\n`);
    });
  }
});
