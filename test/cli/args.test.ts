import { strict as assert } from 'node:assert';
import { chainPaths, parseCommandArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/command.js';

describe('cli/args', () => {
  const options = { base: { type: 'string', multiple: true }, json: { type: 'boolean' }, output: { type: 'string', short: 'o' } } as const;

  it('parses repeated --base root first, booleans, short options and positionals', () => {
    const p = parseCommandArgs(['--base', 'vmlinux', 'FILE', '--base', 'kvm', '--json', '-o', 'OUT'], options);
    assert.deepEqual(p.values.base, ['vmlinux', 'kvm']);
    assert.equal(p.values.json, true);
    assert.equal(p.values.output, 'OUT');
    assert.deepEqual(p.positionals, ['FILE']);
    assert.deepEqual(chainPaths(p.values.base, p.positionals[0]!), ['vmlinux', 'kvm', 'FILE']);
    assert.deepEqual(chainPaths(undefined, 'FILE'), ['FILE']);
  });

  it('turns unknown options and missing values into UsageError (exit 2), never a raw TypeError', () => {
    for (const argv of [['--nope'], ['--base'], ['--json=yes'], ['-x']]) {
      assert.throws(() => parseCommandArgs(argv, options), (e: unknown) => e instanceof UsageError && !e.message.includes('\n'), argv.join(' '));
    }
  });
});
