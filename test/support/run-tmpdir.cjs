'use strict';
// Loaded by mocha (.mocharc.json "require"): every temp file or directory a test run makes, in this
// process or its children, goes under one per-run directory (TMPDIR) removed when the run ends, so
// runs leave nothing behind. Caches meant to outlive a run (the decompressed vmlinux) use
// BTF_EXTRA_HOST_TMPDIR, the temp dir as it was before.
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const hostTmp = process.env.BTF_EXTRA_HOST_TMPDIR || tmpdir();
const runDir = mkdtempSync(join(hostTmp, 'btf-extra-tests-'));
process.env.BTF_EXTRA_HOST_TMPDIR = hostTmp;
process.env.TMPDIR = runDir;

exports.mochaHooks = {
  afterAll() {
    if (process.env.BTF_EXTRA_KEEP_TMP) {
      process.stderr.write(`test temp files kept in ${runDir}\n`);
      return;
    }
    rmSync(runDir, { recursive: true, force: true });
  },
};
