import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { processRssBytes } from '../../src/host/process.js';

describe('host/process', () => {
  it('reads the resident memory of a live process, undefined once it is gone', async () => {
    const rss = processRssBytes(process.pid);
    assert.ok(rss !== undefined && rss > 10 * 1048576 && rss === Math.floor(rss), `our RSS: ${rss}`);
    const child = spawn('sleep', ['10'], { stdio: 'ignore' });
    const pid = child.pid ?? -1;
    assert.ok((processRssBytes(pid) ?? 0) > 0);
    const gone = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await gone;
    assert.equal(processRssBytes(pid), undefined);
  });
});
