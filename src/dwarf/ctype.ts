/**
 * DWARF type -> C spelling ("struct tcp_congestion_ops", "const char *[4]",
 * "int (*)(void)", "char *const") and DWARF type -> byte size, both cached per type offset.
 * Each type DIE is read once into a small node (tag, name, type, size, bounds, parameters);
 * the declarator is built inside-out (pointers prefix, arrays/functions suffix, parentheses
 * where a pointer meets an array or function), the way C reads it.
 */
import { DW_AT, DW_TAG } from './constants.js';
import type { Dwarf } from './dwarf.js';
import { byteSize, subrangeCount } from './values.js';

const MAX_DEPTH = 64;

const QUALIFIER: Readonly<Record<number, string>> = {
  [DW_TAG.const_type]: 'const', [DW_TAG.volatile_type]: 'volatile', [DW_TAG.restrict_type]: 'restrict',
  [DW_TAG.atomic_type]: '_Atomic', [DW_TAG.immutable_type]: 'const',
};

/** GCC's base type names -> the usual C spelling (what gdb prints, and the brief asks for). */
const BASE_SPELLING: Readonly<Record<string, string>> = {
  'long int': 'long', 'long unsigned int': 'unsigned long', 'long long int': 'long long',
  'long long unsigned int': 'unsigned long long', 'short int': 'short', 'short unsigned int': 'unsigned short',
  '__int128 unsigned': 'unsigned __int128',
};

/** What the printer needs from one type DIE. */
interface TypeNode {
  readonly tag: number;
  readonly name: string | undefined;
  readonly type: number | undefined;
  readonly byteSize: number | undefined;
  readonly declaration: boolean;
  readonly prototyped: boolean;
  readonly addressSize: number;
  /** Array dimensions (undefined = unknown bound). */
  readonly dims: readonly (number | undefined)[] | undefined;
  /** Subroutine parameter types (-1 = missing type) and whether it is variadic. */
  readonly params: readonly number[] | undefined;
  readonly varargs: boolean;
}

export class CTypePrinter {
  private readonly dwarf: Dwarf;
  private readonly nodes = new Map<number, TypeNode>();
  private readonly names = new Map<number, string>();
  private readonly sizes = new Map<number, number | undefined>();
  /** Subroutine types being spelled on the current path (see declare()). */
  private readonly spelling = new Set<number>();

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
    return offset === undefined ? undefined : this.sizeAt(offset, 0);
  }

  private node(offset: number): TypeNode {
    let n = this.nodes.get(offset);
    if (n !== undefined) return n;
    const c = this.dwarf.dieAt(offset);
    const tag = c.tag;
    let dims: (number | undefined)[] | undefined;
    let params: number[] | undefined;
    let varargs = false;
    if (tag === DW_TAG.array_type) {
      const d: (number | undefined)[] = [];
      c.eachChild((k) => {
        if (k.tag === DW_TAG.subrange_type || k.tag === DW_TAG.generic_subrange) d.push(subrangeCount(k));
        else if (k.tag === DW_TAG.enumeration_type) d.push(undefined);
      });
      dims = d;
    } else if (tag === DW_TAG.subroutine_type) {
      const p: number[] = [];
      c.eachChild((k) => {
        if (k.tag === DW_TAG.formal_parameter) p.push(k.ref(DW_AT.type) ?? -1);
        else if (k.tag === DW_TAG.unspecified_parameters) varargs = true;
      });
      params = p;
    }
    n = {
      tag, name: c.str(DW_AT.name), type: c.ref(DW_AT.type), byteSize: byteSize(c),
      declaration: c.flag(DW_AT.declaration), prototyped: c.flag(DW_AT.prototyped),
      addressSize: c.unit.addressSize, dims, params, varargs,
    };
    this.nodes.set(offset, n);
    return n;
  }

  private sizeAt(offset: number, depth: number): number | undefined {
    if (this.sizes.has(offset)) return this.sizes.get(offset);
    const s = depth > MAX_DEPTH ? undefined : this.computeSize(offset, depth);
    this.sizes.set(offset, s);
    return s;
  }

  private computeSize(offset: number, depth: number): number | undefined {
    const n = this.node(offset);
    switch (n.tag) {
      case DW_TAG.typedef: case DW_TAG.const_type: case DW_TAG.volatile_type: case DW_TAG.restrict_type:
      case DW_TAG.atomic_type: case DW_TAG.immutable_type:
        return n.type === undefined ? undefined : this.sizeAt(n.type, depth + 1);
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type:
        return n.byteSize ?? n.addressSize;
      case DW_TAG.array_type: {
        if (n.byteSize !== undefined) return n.byteSize;
        const elemSize = n.type === undefined ? undefined : this.sizeAt(n.type, depth + 1);
        const dims = n.dims ?? [];
        if (elemSize === undefined || dims.some((k) => k === undefined)) return undefined;
        return dims.reduce<number>((acc, k) => acc * k!, elemSize);
      }
      case DW_TAG.structure_type: case DW_TAG.union_type: case DW_TAG.class_type:
        return n.declaration ? undefined : n.byteSize;
      default:
        return n.byteSize;
    }
  }

  private base(n: TypeNode): string {
    const name = n.name;
    switch (n.tag) {
      case DW_TAG.structure_type: case DW_TAG.class_type: return name ? `struct ${name}` : 'struct {...}';
      case DW_TAG.union_type: return name ? `union ${name}` : 'union {...}';
      case DW_TAG.enumeration_type: return name ? `enum ${name}` : 'enum {...}';
      case DW_TAG.unspecified_type: return name ?? 'void';
      case DW_TAG.base_type: return name === undefined ? '?' : BASE_SPELLING[name] ?? name;
      default: return name ?? '?';
    }
  }

  /** Full declaration of type `offset` around declarator `inner`, with pending qualifiers `quals`. */
  private declare(offset: number | undefined, inner: string, quals: string, depth: number): string {
    const join = (base: string): string => `${quals ? `${quals} ` : ''}${base}${inner ? ` ${inner}` : ''}`;
    if (offset === undefined) return join('void');
    if (depth > MAX_DEPTH) return join('?');
    const n = this.node(offset);
    const target = n.type;
    const q = QUALIFIER[n.tag];
    if (q !== undefined) {
      // A qualified pointer reads "T *const"; otherwise the qualifier goes before the base.
      const t = target === undefined ? undefined : this.node(target).tag;
      const merged = quals.split(' ').includes(q) ? quals : quals ? `${quals} ${q}` : q;
      if (t === DW_TAG.pointer_type || t === DW_TAG.reference_type || t === DW_TAG.rvalue_reference_type) {
        return this.declare(target, inner ? `${merged} ${inner}` : merged, '', depth + 1);
      }
      return this.declare(target, inner, merged, depth + 1);
    }
    switch (n.tag) {
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type: {
        const star = n.tag === DW_TAG.pointer_type ? '*' : n.tag === DW_TAG.reference_type ? '&' : '&&';
        const withQuals = quals ? `${quals}${inner ? ` ${inner}` : ''}` : inner;
        return this.declare(target, `${star}${withQuals}`, '', depth + 1);
      }
      case DW_TAG.array_type: {
        const dims = (n.dims ?? []).map((k) => `[${k ?? ''}]`).join('') || '[]';
        const wrapped = /^[*&]/.test(inner) ? `(${inner})` : inner;
        return this.declare(target, `${wrapped}${dims}`, quals, depth + 1);
      }
      case DW_TAG.subroutine_type: {
        // Parameters branch: a subroutine type that reaches itself (through a pointer; C needs a
        // typedef or struct in between, where we stop at the name) would cost 2^MAX_DEPTH steps.
        if (this.spelling.has(offset)) return join('?');
        this.spelling.add(offset);
        try {
          const parts = (n.params ?? []).map((t) => (t < 0 ? 'void' : this.declare(t, '', '', depth + 1)));
          if (n.varargs) parts.push('...');
          const params = parts.length === 0 ? (n.prototyped ? 'void' : '') : parts.join(', ');
          const wrapped = /^[*&]/.test(inner) ? `(${inner})` : inner;
          return this.declare(target, `${wrapped}(${params})`, quals, depth + 1);
        } finally {
          this.spelling.delete(offset);
        }
      }
      default:
        return join(this.base(n));
    }
  }
}
