/**
 * Base of every format error. Each format (ELF, DWARF, BTF, config, ...) has one
 * subclass with a closed `code` union, so callers switch on codes, not messages.
 * The message is always one line: "<file>: <section> +0x<offset>: <what>".
 */
export interface ErrorLocation {
  /** File the bytes came from, if known. */
  readonly file?: string | undefined;
  /** Section or region name (".debug_info", "BTF types", ...). */
  readonly section?: string | undefined;
  /** Byte offset within the section/region. */
  readonly offset?: number | bigint | undefined;
}

export abstract class FormatError<Code extends string> extends Error {
  readonly code: Code;
  readonly file: string | undefined;
  readonly section: string | undefined;
  readonly offset: number | bigint | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: Code, what: string, where: ErrorLocation = {}, details: Record<string, unknown> = {}) {
    super(formatLocated(what, where));
    this.code = code;
    this.file = where.file;
    this.section = where.section;
    this.offset = where.offset;
    this.details = details;
  }
}

/** "file: section +0x1a: what" with absent parts left out; newlines in `what` flattened. */
export function formatLocated(what: string, where: ErrorLocation): string {
  const parts: string[] = [];
  if (where.file !== undefined) parts.push(where.file);
  let place = where.section ?? '';
  if (where.offset !== undefined) place += `${place ? ' ' : ''}+0x${where.offset.toString(16)}`;
  if (place) parts.push(place);
  parts.push(what.replace(/[\r\n]+/g, ' '));
  return parts.join(': ');
}

/** Printable form of an untrusted name for error messages (hostile bytes escaped, length capped). */
export function safeName(name: string, max = 80): string {
  const escaped = JSON.stringify(name).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}...` : escaped;
}
