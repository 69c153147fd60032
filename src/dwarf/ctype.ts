/**
 * DWARF type -> C spelling ("struct tcp_congestion_ops", "const char *[4]",
 * "int (*)(void)", "char *const") and DWARF type -> byte size, both cached per type offset.
 * The declarator is built inside-out (pointers prefix, arrays/functions suffix, parentheses
 * where a pointer meets an array or function), the way C reads it.
 */
import { DW_AT, DW_TAG } from './constants.js';
import type { Dwarf, DieCursor } from './dwarf.js';
import { byteSize, subrangeCount } from './values.js';

const MAX_DEPTH = 64;

const QUALIFIER: Readonly<Record<number, string>> = {
  [DW_TAG.const_type]: 'const', [DW_TAG.volatile_type]: 'volatile', [DW_TAG.restrict_type]: 'restrict',
  [DW_TAG.atomic_type]: '_Atomic', [DW_TAG.immutable_type]: 'const',
};

export class CTypePrinter {
  private readonly dwarf: Dwarf;
  private readonly names = new Map<number, string>();
  private readonly sizes = new Map<number, number | undefined>();

  constructor(dwarf: Dwarf) { this.dwarf = dwarf; }

  /** C spelling of the type at `offset` (undefined offset = void). */
  name(offset: number | undefined): string {
    if (offset === undefined) return 'void';
    let s = this.names.get(offset);
    if (s === undefined) {
      s = this.declare(offset, '', '', 0);
      this.names.set(offset, s);
    }
    return s;
  }

  /** Size in bytes of the type at `offset`, or undefined when incomplete/unknown. */
  size(offset: number | undefined): number | undefined {
    if (offset === undefined) return undefined;
    if (this.sizes.has(offset)) return this.sizes.get(offset);
    const s = this.computeSize(offset, 0);
    this.sizes.set(offset, s);
    return s;
  }

  private computeSize(offset: number, depth: number): number | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const c = this.dwarf.dieAt(offset);
    const own = byteSize(c);
    switch (c.tag) {
      case DW_TAG.typedef: case DW_TAG.const_type: case DW_TAG.volatile_type: case DW_TAG.restrict_type:
      case DW_TAG.atomic_type: case DW_TAG.immutable_type: {
        const t = c.ref(DW_AT.type);
        return t === undefined ? undefined : this.computeSize(t, depth + 1);
      }
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type:
        return own ?? c.unit.addressSize;
      case DW_TAG.array_type: {
        if (own !== undefined) return own;
        const elem = c.ref(DW_AT.type);
        const elemSize = elem === undefined ? undefined : this.computeSize(elem, depth + 1);
        const counts = this.dimensions(c);
        if (elemSize === undefined || counts.some((n) => n === undefined)) return undefined;
        return counts.reduce<number>((acc, n) => acc * n!, elemSize);
      }
      case DW_TAG.structure_type: case DW_TAG.union_type: case DW_TAG.class_type:
        return c.flag(DW_AT.declaration) ? undefined : own;
      default:
        return own;
    }
  }

  /** Element counts of an array DIE's subranges (undefined for an unknown bound). */
  private dimensions(array: DieCursor): (number | undefined)[] {
    const out: (number | undefined)[] = [];
    array.eachChild((c) => {
      if (c.tag === DW_TAG.subrange_type || c.tag === DW_TAG.generic_subrange) out.push(subrangeCount(c));
      else if (c.tag === DW_TAG.enumeration_type) out.push(undefined);
    });
    return out;
  }

  private base(c: DieCursor): string {
    const name = c.str(DW_AT.name);
    switch (c.tag) {
      case DW_TAG.structure_type: case DW_TAG.class_type: return name ? `struct ${name}` : 'struct {...}';
      case DW_TAG.union_type: return name ? `union ${name}` : 'union {...}';
      case DW_TAG.enumeration_type: return name ? `enum ${name}` : 'enum {...}';
      case DW_TAG.unspecified_type: return name ?? 'void';
      default: return name ?? '?';
    }
  }

  /** Full declaration of type `offset` around declarator `inner`, with pending qualifiers `quals`. */
  private declare(offset: number | undefined, inner: string, quals: string, depth: number): string {
    const join = (base: string): string => `${quals ? `${quals} ` : ''}${base}${inner ? ` ${inner}` : ''}`;
    if (offset === undefined) return join('void');
    if (depth > MAX_DEPTH) return join('?');
    const c = this.dwarf.dieAt(offset);
    const target = c.ref(DW_AT.type);
    const q = QUALIFIER[c.tag];
    if (q !== undefined) {
      // A qualified pointer reads "T *const"; otherwise the qualifier goes before the base.
      const t = target === undefined ? undefined : this.dwarf.dieAt(target).tag;
      const merged = quals.split(' ').includes(q) ? quals : quals ? `${quals} ${q}` : q;
      if (t === DW_TAG.pointer_type || t === DW_TAG.reference_type || t === DW_TAG.rvalue_reference_type) {
        return this.declare(target, inner ? `${merged} ${inner}` : merged, '', depth + 1);
      }
      return this.declare(target, inner, merged, depth + 1);
    }
    switch (c.tag) {
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type: {
        const star = c.tag === DW_TAG.pointer_type ? '*' : c.tag === DW_TAG.reference_type ? '&' : '&&';
        const withQuals = quals ? `${quals}${inner ? ` ${inner}` : ''}` : inner;
        return this.declare(target, `${star}${withQuals}`, '', depth + 1);
      }
      case DW_TAG.array_type: {
        const dims = this.dimensions(c).map((n) => `[${n ?? ''}]`).join('') || '[]';
        const wrapped = /^[*&]/.test(inner) ? `(${inner})` : inner;
        return this.declare(target, `${wrapped}${dims}`, quals, depth + 1);
      }
      case DW_TAG.subroutine_type: {
        const params = this.parameters(c, depth);
        const wrapped = /^[*&]/.test(inner) ? `(${inner})` : inner;
        return this.declare(target, `${wrapped}(${params})`, quals, depth + 1);
      }
      default:
        return join(this.base(c));
    }
  }

  private parameters(fn: DieCursor, depth: number): string {
    const types: number[] = [];
    let varargs = false;
    fn.eachChild((c) => {
      if (c.tag === DW_TAG.formal_parameter) types.push(c.ref(DW_AT.type) ?? -1);
      else if (c.tag === DW_TAG.unspecified_parameters) varargs = true;
    });
    const parts = types.map((t) => (t < 0 ? 'void' : this.declare(t, '', '', depth + 1)));
    if (varargs) parts.push('...');
    if (parts.length === 0) return fn.flag(DW_AT.prototyped) ? 'void' : '';
    return parts.join(', ');
  }
}
