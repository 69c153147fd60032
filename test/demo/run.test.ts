import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDaemon, startControl } from '../../src/cli/btf-extrad.js';
import type { DaemonStatus } from '../../src/daemon/api.js';
import { fetchStatus } from '../../src/daemon/control/client.js';
import { createLogger, memoryStream } from '../../src/daemon/logger.js';
import { runDemo } from '../../src/demo/run.js';

describe('demo (npm start)', function () {
  this.timeout(120000);
  it('builds the root, loads and unloads modules, publishes, and serves the control socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'btfx-demo-'));
    const { stream, lines } = memoryStream();
    const logger = createLogger('human', { stream });
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => { out += String(s); return true; }) as typeof process.stdout.write;
    let code: number;
    let live: DaemonStatus | undefined;
    try {
      // While the demo waits for its signal, the control socket is up and answers (what `btf-extra status` asks).
      code = await runDemo({
        dir, logger, createDaemon, startControl,
        untilSignal: async (d) => { live = await fetchStatus(d.controlSocket); return 'SIGTERM'; },
      });
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0);
    assert.equal(live?.objects.find((o) => o.name === 'loop')?.state, 'published');
    assert.ok(lines.some((l) => /SIGTERM: stopping/.test(l)) && lines.some((l) => /stopped/.test(l)), lines.join('\n'));
    assert.match(out, /control socket: .*control\.sock/);
    assert.match(out, /status --root /);
    const st = JSON.parse(readFileSync(join(dir, 'run/btf-extra/status.json'), 'utf8')) as DaemonStatus;
    const states = Object.fromEntries(st.objects.map((o) => [o.name, o.state]));
    assert.deepEqual(states, { vmlinux: 'no-debuginfo', cordic: 'published', loop: 'published', tcp_bbr: 'published', virtio_net: 'skipped' });
    assert.ok(existsSync(join(dir, 'run/btf-extra/merged/kernel')));
    assert.ok(!existsSync(join(dir, 'run/btf-extra/btf/crc7')), 'crc7 was unloaded');
    assert.ok(!existsSync(join(dir, 'run/btf-extra/control.sock')), 'socket closed at the end');
  });
});
