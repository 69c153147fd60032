/**
 * Glob patterns over module names for policy rules: `*`, `?` and `[...]` classes (with `!`/`^`
 * negation and ranges). Names are compared with `-` folded to `_`, as modprobe does.
 * Matching never backtracks more than one `*`: at most (pattern length + 1) x (name length + 1)
 * steps, whatever the pattern (a RegExp of `.*` runs is exponential on some names).
 */

export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** One pattern element. */
type GlobToken =
  | { readonly kind: 'char'; readonly char: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'star' }
  | { readonly kind: 'class'; readonly negate: boolean; readonly ranges: readonly (readonly [string, string])[] };

/** A compiled pattern: consecutive stars merged into one. */
export interface Glob {
  readonly pattern: string;
  readonly tokens: readonly GlobToken[];
}

function parseClass(body: string): [string, string][] {
  const ranges: [string, string][] = [];
  const chars = [...body];
  for (let i = 0; i < chars.length; i++) {
    const lo = chars[i] as string;
    const hi = chars[i + 2];
    if (chars[i + 1] === '-' && hi !== undefined) { ranges.push([lo, hi]); i += 2; } else ranges.push([lo, lo]);
  }
  return ranges;
}

/** Compile a glob; returns an error message for malformed patterns. */
export function compileGlob(pattern: string): Glob | string {
  const tokens: GlobToken[] = [];
  const p = pattern;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*') { if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' }); } else if (c === '?') tokens.push({ kind: 'any' });
    else if (c === '-') tokens.push({ kind: 'char', char: '_' }); // outside classes only: "[0-9]" keeps its range
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) return `unclosed "[" at position ${i}`;
      let body = p.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') return `empty character class at position ${i}`;
      tokens.push({ kind: 'class', negate, ranges: parseClass(body) });
      i = close;
    } else tokens.push({ kind: 'char', char: c });
  }
  return { pattern, tokens };
}

function matchesOne(t: GlobToken, c: string): boolean {
  switch (t.kind) {
    case 'char': return t.char === c;
    case 'any': return true;
    case 'class': return t.ranges.some(([lo, hi]) => c >= lo && c <= hi) !== t.negate;
    case 'star': return false;
  }
}

/**
 * Whether `name` matches. Greedy with one resume point (the last star seen): a star only ever
 * needs to swallow one more character and retry what follows it, since any later star can absorb
 * whatever an earlier one would have. `counter.steps` (tests) counts loop iterations.
 */
export function globMatches(glob: Glob, name: string, counter?: { steps: number }): boolean {
  const s = [...normalizeModuleName(name)];
  const t = glob.tokens;
  let ti = 0;
  let si = 0;
  let starAt = -1;
  let resumeAt = 0;
  let steps = 0;
  while (si < s.length) {
    steps++;
    const tok = t[ti];
    if (tok !== undefined && tok.kind === 'star') { starAt = ti++; resumeAt = si; continue; }
    if (tok !== undefined && matchesOne(tok, s[si] as string)) { ti++; si++; continue; }
    if (starAt < 0) break;
    ti = starAt + 1;
    si = ++resumeAt;
  }
  while (t[ti]?.kind === 'star') ti++;
  if (counter) counter.steps += steps;
  return si === s.length && ti === t.length;
}
