/**
 * Glob patterns over module names for policy rules: `*`, `?` and `[...]` classes (with `!`/`^`
 * negation and ranges). Names are compared with `-` folded to `_`, as modprobe does.
 */

export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Compile a glob to an anchored RegExp; returns an error message for malformed patterns. */
export function compileGlob(pattern: string): RegExp | string {
  let re = '^';
  const p = pattern;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '-') re += '_'; // outside classes only: "[0-9]" keeps its range
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) return `unclosed "[" at position ${i}`;
      let body = p.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') return `empty character class at position ${i}`;
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
  }
  return new RegExp(`${re}$`);
}

export function globMatches(pattern: RegExp, name: string): boolean {
  return pattern.test(normalizeModuleName(name));
}
