import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { commandTable, main } from '../../src/cli/btf-extra.js';
import { captureIo } from '../support/cli-io.js';

describe('btf-extra dispatcher', () => {
  it('lists commands on --help and exits 0', async () => {
    const io = captureIo();
    assert.equal(await main(['--help'], io), 0);
    assert.match(io.stdout(), /^Usage: btf-extra COMMAND/);
  });
  it('rejects an unknown command with exit 2 and a one-line error', async () => {
    const io = captureIo();
    assert.equal(await main(['no-such-command'], io), 2);
    assert.equal(io.stderr(), "btf-extra: unknown command 'no-such-command' (see btf-extra --help)\n");
  });
  it('exits 2 with usage when given no command', async () => {
    const io = captureIo();
    assert.equal(await main([], io), 2);
    assert.match(io.stdout(), /Commands:/);
  });
  it('lists each command under the name and summary its module declares', async () => {
    assert.ok(commandTable.length >= 9);
    for (const entry of commandTable) {
      const cmd = await entry.load();
      assert.equal(cmd.name, entry.name);
      assert.equal(cmd.summary, entry.summary, `summary of ${entry.name}`);
      assert.match(cmd.usage, new RegExp(`btf-extra ${entry.name}`));
    }
  });
  it('prints a command\'s usage on --help with exit 0', async () => {
    const io = captureIo();
    assert.equal(await main(['dump', '--help'], io), 0);
    assert.match(io.stdout(), /btf-extra dump/);
  });
  it('runs as installed executables through npx (btf-extra and btf-extrad)', () => {
    const out = execFileSync('npx', ['--no-install', 'btf-extra', '--help'], { encoding: 'utf8' });
    assert.match(out, /Usage: btf-extra/);
    const d = spawnSync('npx', ['--no-install', 'btf-extrad', '--help'], { encoding: 'utf8' });
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stdout, /Usage: btf-extrad/);
  });
});
