import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

// The VM run itself is `npm run test:vm` (minutes, root, QEMU); these check its host-side edges.
describe('test/vm (real-kernel test bed scripts)', () => {
  it('run.sh without the shared data: a clear skip, "0 passed, 0 failed, 1 skipped", counts line, exit 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-skip-'));
    const counts = join(dir, 'counts');
    writeFileSync(counts, 'mocha 5 0 1\n');
    const r = spawnSync('bash', [join(repoRoot, 'test/vm/run.sh')], {
      encoding: 'utf8',
      env: { ...process.env, BTF_EXTRA_SHARED: join(dir, 'absent'), BTF_EXTRA_COUNTS_FILE: counts, BTF_EXTRA_VM_CACHE: join(dir, 'cache') },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^skipping the VM test bed: .*absent.* is not present/);
    assert.equal(lines.at(-1), '0 passed, 0 failed, 1 skipped');
    assert.equal(readFileSync(counts, 'utf8'), 'mocha 5 0 1\nvm 0 0 1\n');
  });

  it("the guest runs README's install block: the extractor finds the admin's commands, comments removed", () => {
    const r = spawnSync('sh', [join(repoRoot, 'test/vm/guest/readme-install-commands.sh'), join(repoRoot, 'README.md')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const cmds = r.stdout.trim().split('\n');
    for (const want of ['npm ci', 'npm install -g .', 'install -m644 systemd/btf-extrad.service /etc/systemd/system/',
      'install -Dm644 config/btf-extra.yaml /etc/btf-extra/config.yaml', 'systemctl daemon-reload && systemctl enable --now btf-extrad']) {
      assert.ok(cmds.includes(want), `'${want}' not among ${JSON.stringify(cmds)}`);
    }
    assert.ok(cmds.every((c) => !c.includes('#')), 'comments are removed');
  });

  it('the extractor prints nothing for a README without the block (the guest check then fails)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-readme-'));
    writeFileSync(join(dir, 'README.md'), '# x\n\n    npm ci\n');
    const r = spawnSync('sh', [join(repoRoot, 'test/vm/guest/readme-install-commands.sh'), join(dir, 'README.md')], { encoding: 'utf8' });
    assert.equal(r.stdout, '');
  });
});
