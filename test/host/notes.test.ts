import { strict as assert } from 'node:assert';
import { buildIdFromNotes, encodeBuildIdNote, encodeNote, parseNotes } from '../../src/host/notes.js';
import { HostFormatError } from '../../src/host/errors.js';

describe('host/notes', () => {
  const id = '88465abd0d48756ce17aea6e15c1c03a65059850';

  it('round-trips a GNU build id note with 4-byte alignment', () => {
    const bytes = encodeBuildIdNote(id);
    assert.equal(bytes.length, 12 + 4 + 20);
    assert.equal(buildIdFromNotes(bytes), id);
  });

  it('skips other notes and finds the build id after them (as in /sys/kernel/notes)', () => {
    const other = encodeNote('Linux', 6, new Uint8Array([1, 2, 3]));
    const bytes = Buffer.concat([other, encodeBuildIdNote(id), new Uint8Array(8)]);
    const notes = parseNotes(bytes);
    assert.deepEqual(notes.map((n) => [n.name, n.type]), [['Linux', 6], ['GNU', 3]]);
    assert.equal(buildIdFromNotes(bytes), id);
  });

  it('returns undefined without a GNU type-3 note', () => {
    assert.equal(buildIdFromNotes(encodeNote('GNU', 4, new Uint8Array(4))), undefined);
    assert.equal(buildIdFromNotes(new Uint8Array(0)), undefined);
  });

  it('rejects a truncated payload with note-truncated naming the offset', () => {
    const bytes = encodeBuildIdNote(id).subarray(0, 20);
    assert.throws(() => parseNotes(bytes, 'f'), (e: unknown) => e instanceof HostFormatError && e.code === 'note-truncated' && /^f: notes \+0x0: /.test(e.message));
  });

  it('rejects a truncated header (non-zero tail)', () => {
    const bytes = Buffer.concat([encodeBuildIdNote(id), new Uint8Array([5, 0, 0])]);
    assert.throws(() => parseNotes(bytes), (e: unknown) => e instanceof HostFormatError && e.code === 'note-truncated' && e.offset === 36);
  });

  it('rejects a namesz that overruns', () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(0, 0xffffffff, true);
    assert.throws(() => parseNotes(bytes), (e: unknown) => e instanceof HostFormatError && e.code === 'note-truncated');
  });
});
