import { strict as assert } from 'node:assert';
import { compileGlob, globMatches, type Glob } from '../../src/daemon/glob.js';

function glob(p: string): Glob {
  const g = compileGlob(p);
  if (typeof g === 'string') throw new Error(g);
  return g;
}

/** Reference semantics: the same glob as an anchored RegExp (fine for the short cases below). */
function reference(p: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '-') re += '_';
    else if (c === '[') {
      const close = p.indexOf(']', i + 2);
      let body = p.slice(i + 1, close);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
  }
  return new RegExp(`${re}$`).test(name.replace(/-/g, '_'));
}

describe('daemon/glob', () => {
  it('stars, ?, classes with ranges and negation; - folds to _', () => {
    assert.ok(globMatches(glob('nf_*'), 'nf_tables'));
    assert.ok(globMatches(glob('kvm-*'), 'kvm_intel'));
    assert.ok(globMatches(glob('kvm-*'), 'kvm-amd'));
    assert.ok(!globMatches(glob('kvm-*'), 'kvm'));
    assert.ok(globMatches(glob('crc[0-9]'), 'crc7'));
    assert.ok(!globMatches(glob('crc[!0-9]'), 'crc7'));
    assert.ok(globMatches(glob('crc[^a-z]'), 'crc7'));
    assert.ok(globMatches(glob('lo?p'), 'loop'));
    assert.ok(globMatches(glob('*'), ''));
    assert.ok(!globMatches(glob('?'), ''));
    assert.ok(globMatches(glob('[]a]x'), ']x'));
    assert.equal(compileGlob('kvm['), 'unclosed "[" at position 3');
    assert.equal(compileGlob('a[!]'), 'empty character class at position 1');
  });

  it('agrees with the RegExp reference on 20,000 random short patterns and names (seeded)', () => {
    let seed = 12345;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const parts = ['a', 'b', '_', '-', '*', '?', '[ab]', '[!a]', '[a-b]', '**'];
    for (let i = 0; i < 20000; i++) {
      const p = Array.from({ length: rnd(6) }, () => parts[rnd(parts.length)]!).join('');
      const name = Array.from({ length: rnd(8) }, () => 'ab_-'[rnd(4)]!).join('');
      assert.equal(globMatches(glob(p), name), reference(p, name), `${JSON.stringify(p)} vs ${JSON.stringify(name)}`);
    }
  });

  it('many stars against a long name: right answer in at most (pattern+2) x (name+1) steps', () => {
    const name = 'a'.repeat(4000);
    for (const [p, want] of [[`${'*a'.repeat(40)}*b`, false], [`${'*a'.repeat(40)}*`, true], [`${'a*'.repeat(60)}a`, true], [`*${'?*'.repeat(50)}b`, false]] as const) {
      const g = glob(p);
      const counter = { steps: 0 };
      assert.equal(globMatches(g, name, counter), want, p);
      assert.ok(counter.steps <= (g.tokens.length + 2) * (name.length + 1), `${p}: ${counter.steps} steps`);
      assert.ok(counter.steps > 0);
    }
  });
});
