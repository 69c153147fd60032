/**
 * Static-storage location expressions: DW_OP_addr A, DW_OP_addrx I or DW_OP_GNU_addr_index I,
 * optionally followed by DW_OP_plus_uconst N. The address operand is read through the
 * .debug_info relocations (ET_REL) or .debug_addr (addrx), so the result is relocated.
 * Anything else (register/stack locations, DW_OP_stack_value, TLS) is not static storage.
 */
import { DW_AT, DW_OP } from './constants.js';
import type { DieCursor } from './dwarf.js';
import type { DwarfAddress } from './section.js';

/** `addr` moved by `delta` bytes, keeping its section (if any). */
export function addToAddress(addr: DwarfAddress, delta: bigint): DwarfAddress {
  if (typeof addr === 'bigint') return addr + delta;
  return { section: addr.section, offset: addr.offset + delta };
}

function uleb(bytes: Uint8Array, pos: number): { value: bigint; next: number } | undefined {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= bytes.length || shift > 63n) return undefined;
    const b = bytes[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if ((b & 0x80) === 0) return { value: v, next: pos };
  }
}

/**
 * The static address of the current DIE's DW_AT_location, or undefined when it is absent
 * or not one of the recognised static forms. Location lists are never static storage here.
 * `DW_OP_addr A; DW_OP_stack_value` (an optimised local whose *value* is A) is not storage.
 */
export function staticLocation(die: DieCursor): DwarfAddress | undefined {
  const r = locationAddress(die);
  return r === undefined || r.implicitValue ? undefined : r.address;
}

/**
 * Like staticLocation, but also reports `DW_OP_addr A [+N]; DW_OP_stack_value` with
 * implicitValue = true, and `exact` when the expression is `DW_OP_addr A [+N]` and nothing more: the variable has no storage of its own, its value is the address A
 * (GCC emits this for locals optimised into a constant pointer to a static object).
 * elfutils-style counts of "function statics" include these.
 */
export function locationAddress(die: DieCursor): { address: DwarfAddress; implicitValue: boolean; exact: boolean } | undefined {
  const offset = die.blockPos(DW_AT.location);
  if (offset < 0 || die.blockLength === 0) return undefined;
  const first = die.unit.dwarf.info.bytes[offset];
  // cheap reject before making a view: most locals live in registers or on the stack
  if (first !== DW_OP.addr && first !== DW_OP.addrx && first !== DW_OP.GNU_addr_index) return undefined;
  const bytes = die.unit.dwarf.info.bytes.subarray(offset, offset + die.blockLength);
  const unit = die.unit;
  let addr: DwarfAddress;
  let pos: number;
  const op = bytes[0]!;
  if (op === DW_OP.addr) {
    if (bytes.length < 1 + unit.addressSize) return undefined;
    addr = unit.dwarf.info.addressAt(offset + 1, unit.addressSize);
    pos = 1 + unit.addressSize;
  } else if (op === DW_OP.addrx || op === DW_OP.GNU_addr_index) {
    const idx = uleb(bytes, 1);
    if (!idx || idx.value > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    addr = unit.addrx(Number(idx.value), offset);
    pos = idx.next;
  } else {
    return undefined;
  }
  if (pos < bytes.length && bytes[pos] === DW_OP.plus_uconst) {
    const n = uleb(bytes, pos + 1);
    if (!n) return undefined;
    addr = addToAddress(addr, n.value);
    pos = n.next;
  }
  // DW_OP_stack_value makes the address the value itself: no storage. `exact`: nothing else
  // follows (the encoder, like pahole, takes only such plain expressions as a variable's home).
  return { address: addr, implicitValue: pos < bytes.length && bytes[pos] === DW_OP.stack_value, exact: pos === bytes.length };
}

/** Whether the location starts with a static-address operator (cheap check, no decoding). */
export function hasStaticLocation(die: DieCursor): boolean {
  const offset = die.blockPos(DW_AT.location);
  if (offset < 0 || die.blockLength === 0) return false;
  const op = die.unit.dwarf.info.bytes[offset];
  return op === DW_OP.addr || op === DW_OP.addrx || op === DW_OP.GNU_addr_index;
}
