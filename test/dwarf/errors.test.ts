import { strict as assert } from 'node:assert';
import { DWARF_ERROR_CODES } from '../../src/dwarf/errors.js';
import { codesWithoutTest } from '../support/error-codes.js';

describe('DwarfError codes', () => {
  it('every code of the closed union is asserted by a test in test/dwarf', () => {
    assert.deepEqual(codesWithoutTest(DWARF_ERROR_CODES, ['dwarf']), []);
  });
});
