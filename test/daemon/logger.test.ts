import { strict as assert } from 'node:assert';
import { createLogger, detectLogStyle, formatDecision, memoryStream } from '../../src/daemon/logger.js';
import { systemdNotifier, nullNotifier } from '../../src/daemon/notify.js';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('daemon/logger and notify', () => {
  it('journal style: <N> syslog priority prefixes, one line per message', async () => {
    const { stream, lines } = memoryStream();
    const log = createLogger('journal', { stream, level: 'debug' });
    log.error('e');
    log.warn('w');
    log.info('multi\nline');
    log.debug('d');
    log.decision({ object: 'loop', action: 'publish', reason: 'cache hit', ms: 2.6 });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(lines, ['<3>e', '<4>w', '<6>multi line', '<7>d', '<6>loop: publish (cache hit) 3 ms']);
  });

  it('human style has a time and a level; levels below the threshold are dropped', async () => {
    const { stream, lines } = memoryStream();
    const log = createLogger('human', { stream, level: 'info' });
    log.debug('hidden');
    log.info('shown');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} info {4}shown$/);
  });

  it('style detection: systemd sets JOURNAL_STREAM or INVOCATION_ID', () => {
    assert.equal(detectLogStyle({ JOURNAL_STREAM: '8:123' }), 'journal');
    assert.equal(detectLogStyle({ INVOCATION_ID: 'abc' }), 'journal');
    assert.equal(detectLogStyle({}), 'human');
    assert.equal(formatDecision({ object: 'x', action: 'skip' }), 'x: skip');
  });

  it('notifier: nothing without NOTIFY_SOCKET; READY/STATUS through systemd-notify otherwise', async () => {
    assert.equal(systemdNotifier({}), nullNotifier);
    const dir = mkdtempSync(join(tmpdir(), 'btfx-notify-'));
    const rec = join(dir, 'calls');
    const cmd = join(dir, 'fake-notify');
    writeFileSync(cmd, `#!/bin/sh\necho "$@" >> ${rec}\n`);
    chmodSync(cmd, 0o755);
    const n = systemdNotifier({ NOTIFY_SOCKET: '/run/x' }, cmd);
    n.ready('3 published');
    n.status('3 published');
    n.status('4 published');
    n.stop();
    for (let i = 0; i < 100 && !(existsSync(rec) && readFileSync(rec, 'utf8').split('\n').length >= 3); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(readFileSync(rec, 'utf8').trim().split('\n').sort(), ['--ready --status=3 published', '--status=4 published']);
  });

  it('watchdog: WATCHDOG=1 at half of WATCHDOG_USEC, only for our pid, until stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-wdog-'));
    const script = (rec: string): string => {
      const cmd = join(dir, `notify-${rec}`);
      writeFileSync(cmd, `#!/bin/sh\necho "$@" >> ${join(dir, rec)}\n`);
      chmodSync(cmd, 0o755);
      return cmd;
    };
    const calls = (rec: string): string[] => (existsSync(join(dir, rec)) ? readFileSync(join(dir, rec), 'utf8').trim().split('\n') : []);
    // 2 s watchdog -> a ping every 1 s; another process's WATCHDOG_PID -> no pings from us.
    const ours = systemdNotifier({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) }, script('ours'));
    const other = systemdNotifier({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid + 1) }, script('other'));
    try {
      await new Promise((r) => setTimeout(r, 1300));
      for (let i = 0; i < 50 && calls('ours').length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(calls('ours'), ['WATCHDOG=1']);
      assert.deepEqual(calls('other'), []);
    } finally { ours.stop(); other.stop(); }
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(calls('ours'), ['WATCHDOG=1'], 'no ping after stop');
  });
});
