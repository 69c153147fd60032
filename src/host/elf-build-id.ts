/**
 * GNU build id of an ELF64 little-endian file on disk (a debug vmlinux or module), reading only
 * the ELF header, the section headers and the SHT_NOTE sections: a 226 MB vmlinux costs a few KB.
 */
import { FILE_LIMITS, openRegular } from '../util/safe-file.js';
import { HostFormatError } from './errors.js';
import { buildIdFromNotes } from './notes.js';

const SHT_NOTE = 7;
const MAX_NOTE_SECTION = 1 << 20;

export async function readElfBuildId(path: string): Promise<string | undefined> {
  // A FIFO or device (a symlink to /dev/zero) is refused here, before any read; O_NONBLOCK keeps
  // the open of a FIFO from holding a thread-pool thread.
  const { fh, size } = await openRegular(path, { maxBytes: FILE_LIMITS.elf });
  try {
    const read = async (pos: number, len: number, what: string): Promise<Uint8Array> => {
      if (pos + len > size) throw new HostFormatError('elf-truncated', `${what} (${len} bytes) runs past the end of the file (${size} bytes)`, { file: path, offset: pos });
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      return buf;
    };
    if (size < 64) throw new HostFormatError(size >= 4 ? 'elf-truncated' : 'elf-magic', 'file is shorter than an ELF64 header', { file: path, offset: 0 });
    const eh = await read(0, 64, 'ELF header');
    if (eh[0] !== 0x7f || eh[1] !== 0x45 || eh[2] !== 0x4c || eh[3] !== 0x46) throw new HostFormatError('elf-magic', 'not an ELF file', { file: path, offset: 0 });
    if (eh[4] !== 2 || eh[5] !== 1) throw new HostFormatError('elf-unsupported', `ELF class ${eh[4]} data ${eh[5]}: only ELF64 little-endian is read`, { file: path, offset: 4 });
    const hv = new DataView(eh.buffer, eh.byteOffset, eh.byteLength);
    const shoff = Number(hv.getBigUint64(0x28, true));
    const shentsize = hv.getUint16(0x3a, true);
    const shnum = hv.getUint16(0x3c, true);
    if (shnum === 0) return undefined;
    if (shentsize < 64) throw new HostFormatError('elf-unsupported', `section header size ${shentsize} < 64`, { file: path, offset: 0x3a });
    const sh = await read(shoff, shentsize * shnum, 'section header table');
    const sv = new DataView(sh.buffer, sh.byteOffset, sh.byteLength);
    for (let i = 0; i < shnum; i++) {
      const base = i * shentsize;
      if (sv.getUint32(base + 4, true) !== SHT_NOTE) continue;
      const off = Number(sv.getBigUint64(base + 0x18, true));
      const len = Number(sv.getBigUint64(base + 0x20, true));
      if (len === 0 || len > MAX_NOTE_SECTION) continue;
      const id = buildIdFromNotes(await read(off, len, `note section ${i}`), path);
      if (id !== undefined) return id;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
