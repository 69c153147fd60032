/**
 * Raw ELF notes as the kernel exposes them (/sys/module/<m>/notes/.note.gnu.build-id,
 * /sys/kernel/notes): u32 namesz, u32 descsz, u32 type, then name and desc each padded to 4.
 * The GNU build id is the note named "GNU" with type 3.
 */
import { HostFormatError } from './errors.js';

export const NT_GNU_BUILD_ID = 3;

export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** Every note in `bytes`; a header or payload past the end is a typed error naming the offset. */
export function parseNotes(bytes: Uint8Array, file?: string): ElfNote[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const notes: ElfNote[] = [];
  let off = 0;
  while (off < bytes.length) {
    // Trailing zero padding (sysfs pads note files) is not a note.
    if (bytes.length - off < 12) {
      if (bytes.subarray(off).every((b) => b === 0)) break;
      throw new HostFormatError('note-truncated', `note header needs 12 bytes, ${bytes.length - off} left`, { file, section: 'notes', offset: off });
    }
    const namesz = view.getUint32(off, true);
    const descsz = view.getUint32(off + 4, true);
    const type = view.getUint32(off + 8, true);
    if (namesz === 0 && descsz === 0 && type === 0) break;
    const nameOff = off + 12;
    const descOff = nameOff + align4(namesz);
    const end = descOff + align4(descsz);
    if (descOff + descsz > bytes.length || nameOff + namesz > bytes.length) {
      throw new HostFormatError('note-truncated', `note (namesz ${namesz}, descsz ${descsz}) runs past the end (${bytes.length} bytes)`, { file, section: 'notes', offset: off });
    }
    let nameBytes = bytes.subarray(nameOff, nameOff + namesz);
    if (nameBytes.length > 0 && nameBytes[nameBytes.length - 1] === 0) nameBytes = nameBytes.subarray(0, -1);
    notes.push({ name: Buffer.from(nameBytes).toString('latin1'), type, desc: bytes.subarray(descOff, descOff + descsz) });
    off = end;
  }
  return notes;
}

/** Hex GNU build id from raw notes, or undefined when there is none. */
export function buildIdFromNotes(bytes: Uint8Array, file?: string): string | undefined {
  const note = parseNotes(bytes, file).find((n) => n.name === 'GNU' && n.type === NT_GNU_BUILD_ID);
  return note && note.desc.length > 0 ? Buffer.from(note.desc).toString('hex') : undefined;
}

/** Raw note bytes as the kernel writes them: used by the demo and test roots. */
export function encodeNote(name: string, type: number, desc: Uint8Array): Uint8Array {
  const nameBytes = Buffer.from(`${name}\0`, 'latin1');
  const out = new Uint8Array(12 + align4(nameBytes.length) + align4(desc.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, nameBytes.length, true);
  view.setUint32(4, desc.length, true);
  view.setUint32(8, type, true);
  out.set(nameBytes, 12);
  out.set(desc, 12 + align4(nameBytes.length));
  return out;
}

export function encodeBuildIdNote(hex: string): Uint8Array {
  return encodeNote('GNU', NT_GNU_BUILD_ID, Buffer.from(hex, 'hex'));
}
