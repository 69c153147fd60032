import { strict as assert } from 'node:assert';
import { ELF_ERROR_CODES } from '../../src/elf/errors.js';
import { codesWithoutTest } from '../support/error-codes.js';

describe('ElfError codes', () => {
  it('every code of the closed union is asserted by a test in test/elf or test/dwarf', () => {
    assert.deepEqual(codesWithoutTest(ELF_ERROR_CODES, ['elf', 'dwarf']), []);
  });
});
