import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_ERROR_CODES, ConfigError, DEFAULT_CONFIG, loadConfig, policyFor, validateConfig, type ConfigErrorCode } from '../../src/daemon/config.js';

const dir = mkdtempSync(join(tmpdir(), 'btfx-cfg-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}
async function expectCode(text: string, code: ConfigErrorCode, key: RegExp): Promise<void> {
  const p = file(text);
  await assert.rejects(loadConfig(p, true), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith(`${p}: `), e.message);
    assert.match(e.message, key);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

describe('daemon/config', () => {
  it('the shipped config/btf-extra.yaml loads and equals the built-in defaults', async () => {
    const { config, file: f } = await loadConfig('config/btf-extra.yaml', true);
    assert.equal(f, 'config/btf-extra.yaml');
    assert.deepEqual(config, DEFAULT_CONFIG);
  });

  it('a missing default file means built-in defaults; a missing --config file is not-found', async () => {
    assert.deepEqual(await loadConfig(join(dir, 'absent.yaml'), false), { config: DEFAULT_CONFIG, file: undefined });
    await assert.rejects(loadConfig(join(dir, 'absent.yaml'), true), (e: unknown) => e instanceof ConfigError && e.code === 'not-found');
  });

  it('a FIFO or /dev/zero as the config file is unreadable, refused without blocking or reading', async () => {
    const fifo = join(dir, 'config-fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const zero = join(dir, 'config-zero.yaml');
    symlinkSync('/dev/zero', zero);
    for (const f of [fifo, zero]) {
      await assert.rejects(loadConfig(f, true), (e: unknown) => e instanceof ConfigError && e.code === 'unreadable' && e.message.startsWith(f) && /not a regular file/.test(e.message));
    }
  });

  it('an empty file is the defaults', async () => {
    assert.deepEqual((await loadConfig(file(''), true)).config, DEFAULT_CONFIG);
  });

  it('reads rules, vars, paths, URLs and limits', async () => {
    const { config } = await loadConfig(file(`
policy:
  default: on-demand
  rules:
    - { match: "nf_*", policy: never }
    - { match: "kvm-*", policy: always }
vars: percpu
debuginfo: { paths: [/opt/debug], debuginfodUrls: ["http://127.0.0.1:8002/"] }
jobs: { concurrency: 4, timeoutSeconds: 60, memoryMB: 512 }
control: { group: btfx }
watch: { pollIntervalMs: 500 }
`), true);
    assert.equal(config.policy.default, 'on-demand');
    assert.equal(config.vars, 'percpu');
    assert.deepEqual(config.debuginfo.paths, ['/opt/debug']);
    assert.deepEqual(config.debuginfo.debuginfodUrls, ['http://127.0.0.1:8002']);
    assert.deepEqual(config.jobs, { concurrency: 4, timeoutSeconds: 60, memoryMB: 512 });
    assert.equal(config.control.group, 'btfx');
    assert.equal(config.watch.pollIntervalMs, 500);
    assert.equal(config.watch.uevents, true);
    assert.equal(policyFor(config, 'nf_tables'), 'never');
    assert.equal(policyFor(config, 'kvm_intel'), 'always');
    assert.equal(policyFor(config, 'loop'), 'on-demand');
    assert.equal(policyFor(config, 'vmlinux'), 'on-demand');
  });

  it('first matching rule wins; classes and ? work', () => {
    const c = validateConfig({ policy: { rules: [{ match: 'crc[0-9]', policy: 'never' }, { match: 'crc*', policy: 'on-demand' }, { match: 'lo?p', policy: 'never' }] } }, 'x');
    assert.equal(policyFor(c, 'crc7'), 'never');
    assert.equal(policyFor(c, 'crc32c'), 'on-demand');
    assert.equal(policyFor(c, 'loop'), 'never');
    assert.equal(policyFor(c, 'vmlinux'), 'always');
  });

  describe('errors (one per code)', () => {
    it('syntax (the parser\'s reason and line:column, not just "YAML Error in FILE:")', () => expectCode('policy: [unclosed\n', 'syntax', /YAML does not parse: .+\(\d+:\d+\)/));
    it('not-mapping', () => expectCode('policy: always\n', 'not-mapping', /: policy: expected a mapping, got string/));
    it('not-mapping at top level', () => expectCode('- a\n- b\n', 'not-mapping', /\(top level\): expected a mapping, got a list/));
    it('unknown-key', () => expectCode('jobs: { concurency: 2 }\n', 'unknown-key', /: jobs\.concurency: unknown key/));
    it('wrong-type', () => expectCode('jobs: { concurrency: "two" }\n', 'wrong-type', /: jobs\.concurrency: expected an integer/));
    it('bad-value (policy word)', () => expectCode('policy: { default: sometimes }\n', 'bad-value', /: policy\.default: expected one of always\|on-demand\|never, got "sometimes"/));
    it('bad-value (range)', () => expectCode('jobs: { concurrency: 0 }\n', 'bad-value', /jobs\.concurrency: expected an integer in \[1, 64\], got 0/));
    it('bad-value (relative path)', () => expectCode('cacheDir: var/cache\n', 'bad-value', /cacheDir: expected an absolute path/));
    it('bad-value (URL)', () => expectCode('debuginfo: { debuginfodUrls: ["ftp://x"] }\n', 'bad-value', /debuginfo\.debuginfodUrls\[0\]: expected an http\(s\) URL/));
    it('bad-value (destination word)', () => expectCode('destination: kernels\n', 'bad-value', /: destination: expected one of files\|kernel\|both, got "kernels"/));
    it('bad-value (a signing key without its certificate)', () => expectCode('companions: { signKey: /etc/k.pem }\n', 'bad-value', /companions\.signCert: signKey and signCert go together/));
    it('bad-glob', () => expectCode('policy: { rules: [ { match: "kvm[", policy: never } ] }\n', 'bad-glob', /policy\.rules\[0\]\.match: unclosed/));
    it('wrong-type rule match', () => expectCode('policy: { rules: [ { policy: never } ] }\n', 'wrong-type', /policy\.rules\[0\]\.match: expected a non-empty glob/));
    it('every code is covered above', () => {
      const covered: ConfigErrorCode[] = ['not-found', 'unreadable', 'syntax', 'not-mapping', 'unknown-key', 'wrong-type', 'bad-value', 'bad-glob'];
      assert.deepEqual([...covered].sort(), [...CONFIG_ERROR_CODES].sort());
    });
  });
});
