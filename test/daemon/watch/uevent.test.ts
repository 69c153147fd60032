import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { UeventParser, UeventWatcher, commandSource, streamSource } from '../../../src/daemon/watch/uevent.js';
import type { ModuleEvent } from '../../../src/daemon/watch/types.js';

const banner = 'monitor will print the received events for:\nKERNEL - the kernel uevent\n\n';
const block = (action: string, name: string, seq: number): string =>
  `KERNEL[1234.5678] ${action}      /module/${name} (module)\nACTION=${action}\nDEVPATH=/module/${name}\nSUBSYSTEM=module\nSEQNUM=${seq}\n\n`;

describe('daemon/watch/uevent', () => {
  it('parses blocks into add/remove events, ignoring the banner', () => {
    const p = new UeventParser();
    const evs = p.push(banner + block('add', 'loop', 10) + block('remove', 'crc7', 11));
    assert.deepEqual(evs, [{ action: 'add', name: 'loop', seqnum: 10 }, { action: 'remove', name: 'crc7', seqnum: 11 }]);
  });

  it('handles blocks split across arbitrary chunks (byte by byte)', () => {
    const p = new UeventParser();
    const text = banner + block('add', 'tcp_bbr', 1) + block('add', 'kvm_intel', 2);
    const evs: ModuleEvent[] = [];
    for (const ch of text) evs.push(...p.push(ch));
    assert.deepEqual(evs.map((e) => e.name), ['tcp_bbr', 'kvm_intel']);
  });

  it('ignores other actions, subsystems and malformed paths; a last block without blank line counts at end', () => {
    const p = new UeventParser();
    const evs = p.push(
      'KERNEL[1] bind /module/x (module)\nACTION=bind\nDEVPATH=/module/x\nSUBSYSTEM=module\n\n'
      + 'KERNEL[2] add /devices/foo (pci)\nACTION=add\nDEVPATH=/devices/foo\nSUBSYSTEM=pci\n\n'
      + 'ACTION=add\nDEVPATH=/module/a/b\nSUBSYSTEM=module\n\n'
      + 'garbage without equals\n\n'
      + 'ACTION=remove\nDEVPATH=/module/loop\nSUBSYSTEM=module\nSEQNUM=x',
    );
    assert.deepEqual(evs, []);
    assert.deepEqual(p.end(), [{ action: 'remove', name: 'loop', seqnum: undefined }]);
  });

  it('watches an injected stream (as tests and the demo feed it)', async () => {
    const s = new PassThrough();
    const w = new UeventWatcher(streamSource(s), 50);
    const got: ModuleEvent[] = [];
    await w.start((e) => got.push(e), () => {});
    s.write(block('add', 'loop', 5));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, [{ action: 'add', name: 'loop', seqnum: 5 }]);
    await w.stop();
  });

  it('a caller-owned stream survives a watcher stop and feeds the next watcher (daemon restart)', async () => {
    const s = new PassThrough();
    const w1 = new UeventWatcher(streamSource(s), 10);
    await w1.start(() => {}, () => {});
    await w1.stop();
    assert.ok(!s.destroyed);
    const w2 = new UeventWatcher(streamSource(s), 10);
    const got: ModuleEvent[] = [];
    await w2.start((e) => got.push(e), () => {});
    s.write(block('remove', 'xfs', 9));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got.map((e) => `${e.action} ${e.name}`), ['remove xfs']);
    await w2.stop();
  });

  it('watches a child process that prints blocks (fake udevadm), ready after its banner', async () => {
    const script = `printf '${banner.replace(/\n/g, '\\n')}'; sleep 0.2; printf '${block('add', 'crc7', 7).replace(/\n/g, '\\n')}'; sleep 30`;
    const w = new UeventWatcher(commandSource(['sh', '-c', script]), 5000);
    const got: ModuleEvent[] = [];
    const t0 = Date.now();
    await w.start((e) => got.push(e), () => {});
    assert.ok(Date.now() - t0 < 2000, 'ready on the banner, not the timeout');
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(got.map((e) => e.name), ['crc7']);
    await w.stop();
  });

  it('is ready only at the end of the banner (udevadm binds its socket between the two banner lines)', async () => {
    const s = new PassThrough();
    const w = new UeventWatcher(streamSource(s), 10_000);
    let ready = false;
    const started = w.start(() => {}, () => {}).then(() => { ready = true; });
    s.write('monitor will print the received events for:\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ready, false, 'not listening yet after the first banner line');
    s.write('KERNEL - the kernel uevent\n\n');
    await started;
    assert.equal(ready, true);
    await w.stop();
  });

  it('rejects start when the command does not exist', async () => {
    const w = new UeventWatcher(commandSource(['/nonexistent/udevadm']), 5000);
    await assert.rejects(w.start(() => {}, () => {}), /ENOENT/);
    await w.stop();
  });

  it('reports a monitor that dies after starting', async () => {
    const w = new UeventWatcher(commandSource(['sh', '-c', `printf 'x\\n\\n'; sleep 0.2; exit 3`]), 5000);
    const errors: Error[] = [];
    await w.start(() => {}, (e) => errors.push(e));
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(errors[0]?.message ?? '', /ended|exited/);
    await w.stop();
  });

  it('a monitor that dies before its banner ends fails start (the next watcher takes over)', async () => {
    const w = new UeventWatcher(commandSource(['sh', '-c', `printf 'monitor will print the received events for:\\n'; exit 1`]), 5000);
    await assert.rejects(w.start(() => {}, () => {}), /ended|exited/);
    await w.stop();
  });
});
