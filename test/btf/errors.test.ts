import { strict as assert } from 'node:assert';
import { BTF_ERROR_CODES } from '../../src/btf/errors.js';
import { codesWithoutTest } from '../support/error-codes.js';

describe('BtfError codes', () => {
  it('every code of the closed union is asserted by a test in test/btf', () => {
    assert.deepEqual(codesWithoutTest(BTF_ERROR_CODES, ['btf']), []);
  });
});
