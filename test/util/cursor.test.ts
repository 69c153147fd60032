import { strict as assert } from 'node:assert';
import { ByteCursor, cstrAt } from '../../src/util/cursor.js';

class Overrun extends Error {}
const overrun = (what: string, off: number) => new Overrun(`${what} @${off}`);

describe('ByteCursor', () => {
  it('reads little-endian integers and advances', () => {
    const c = new ByteCursor(Uint8Array.from([1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0x80]), overrun);
    assert.equal(c.u16(), 1);
    assert.equal(c.u32(), 2);
    assert.equal(c.u64(), 0x8000000000000003n);
    assert.ok(c.atEnd);
  });
  it('decodes LEB128 the way DWARF does', () => {
    const c = new ByteCursor(Uint8Array.from([0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f, 0x02]), overrun);
    assert.equal(c.uleb(), 624485);
    assert.equal(c.sleb(), -1);
    assert.equal(c.sleb(), -128);
    assert.equal(c.sleb(), 2);
  });
  it('turns overruns into the caller error with the absolute offset', () => {
    const c = new ByteCursor(Uint8Array.from([1, 2, 3]), overrun, 0x100);
    c.u16();
    assert.throws(() => c.u32('field'), (e: unknown) => e instanceof Overrun && e.message === 'field @258');
    assert.throws(() => new ByteCursor(Uint8Array.from([0x80, 0x80]), overrun).uleb(), Overrun);
    assert.throws(() => new ByteCursor(Uint8Array.from([0x61]), overrun).cstr(), Overrun);
    assert.throws(() => c.sub(2, 5), Overrun);
  });
  it('hands out views, not copies', () => {
    const bytes = Uint8Array.from([9, 8, 7, 6]);
    const c = new ByteCursor(bytes, overrun);
    const v = c.bytesView(2);
    bytes[0] = 42;
    assert.equal(v[0], 42);
  });
  it('finds strings in a table and rejects out-of-range offsets', () => {
    const t = Uint8Array.from([0, 0x61, 0x62, 0, 0x63]);
    assert.equal(cstrAt(t, 1), 'ab');
    assert.equal(cstrAt(t, 2), 'b');
    assert.equal(cstrAt(t, 4), undefined);
    assert.equal(cstrAt(t, 9), undefined);
  });
});
