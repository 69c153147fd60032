'use strict';
// Mocha's spec output, then one plain closing line "N passed, N failed, N skipped"
// that CI reads (it does not parse mocha's own epilogue).
const { appendFileSync } = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => { counts.passed += 1; });
    runner.on('fail', () => { counts.failed += 1; });
    runner.on('pending', () => { counts.skipped += 1; });
    // Registered after Spec's own 'end' handler, so this is the last line printed.
    runner.once('end', () => {
      process.stdout.write(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
      // .ci/run runs more than one suite and prints their sum as its own last line.
      const file = process.env.BTF_EXTRA_COUNTS_FILE;
      if (file) appendFileSync(file, `mocha ${counts.passed} ${counts.failed} ${counts.skipped}\n`);
    });
  }
}
module.exports = SummaryReporter;
