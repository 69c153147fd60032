/**
 * Daemon configuration: YAML found with cosmiconfig (default /etc/btf-extra/config.yaml under the
 * root), validated by hand so each mistake is one line naming the file, the key and what was
 * expected. A missing default file means "built-in defaults" (a fresh install just works).
 */
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { HOST_DEFAULTS } from '../host/paths.js';
import { FILE_LIMITS, SafeFileError, withSafeFile } from '../util/safe-file.js';
import { FormatError, type ErrorLocation } from '../util/errors.js';
import { compileGlob, globMatches } from './glob.js';

export const POLICIES = ['always', 'on-demand', 'never'] as const;
export type Policy = (typeof POLICIES)[number];
export const VAR_SETS = ['all', 'percpu', 'none'] as const;
export type VarSet = (typeof VAR_SETS)[number];
/**
 * Where generated extras go: `files` under runtimeDir only; `kernel` as companion modules inserted
 * into the running kernel (files only for objects whose companion cannot be loaded); `both`.
 */
export const DESTINATIONS = ['files', 'kernel', 'both'] as const;
export type Destination = (typeof DESTINATIONS)[number];

export interface PolicyRule {
  readonly match: string;
  readonly policy: Policy;
}

export interface DaemonConfig {
  readonly policy: { readonly default: Policy; readonly rules: readonly PolicyRule[] };
  readonly vars: VarSet;
  readonly debuginfo: {
    /** Debug roots (host-absolute, resolved under --root), each laid out like /usr/lib/debug. */
    readonly paths: readonly string[];
    readonly debuginfodUrls: readonly string[];
    readonly debuginfodTimeoutMs: number;
    /** Watch the debug roots and retry objects without debuginfo when files appear. */
    readonly watch: boolean;
  };
  readonly jobs: { readonly concurrency: number; readonly timeoutSeconds: number; readonly memoryMB: number };
  readonly runtimeDir: string;
  readonly cacheDir: string;
  readonly control: { readonly group: string | null };
  readonly watch: { readonly pollIntervalMs: number; readonly uevents: boolean };
  readonly destination: Destination;
  readonly companions: {
    readonly modprobe: boolean;
    readonly softdeps: boolean;
    /** Key and certificate (host-absolute) that sign generated companions; null: unsigned. */
    readonly signKey: string | null;
    readonly signCert: string | null;
  };
}

export const DEFAULT_CONFIG: DaemonConfig = {
  policy: { default: 'always', rules: [] },
  vars: 'all',
  debuginfo: { paths: [HOST_DEFAULTS.debugDir], debuginfodUrls: [], debuginfodTimeoutMs: 30000, watch: true },
  jobs: { concurrency: 2, timeoutSeconds: 300, memoryMB: 2048 },
  runtimeDir: HOST_DEFAULTS.runtimeDir,
  cacheDir: HOST_DEFAULTS.cacheDir,
  control: { group: null },
  watch: { pollIntervalMs: 2000, uevents: true },
  destination: 'files',
  companions: { modprobe: true, softdeps: true, signKey: null, signCert: null },
};

export const CONFIG_ERROR_CODES = [
  'not-found',     // --config names a file that does not exist
  'unreadable',    // not a regular file (a FIFO, a device), too large, or cannot be opened
  'syntax',        // YAML did not parse
  'not-mapping',   // a value that must be a mapping is not (including the top level)
  'unknown-key',   // a key the daemon does not know (typos should not be silently ignored)
  'wrong-type',    // e.g. a string where a number is expected
  'bad-value',     // right type, value out of range or not one of the allowed words
  'bad-glob',      // malformed rule pattern
] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

export class ConfigError extends FormatError<ConfigErrorCode> {
  constructor(code: ConfigErrorCode, what: string, where: ErrorLocation = {}) {
    super(code, what, where);
    this.name = 'ConfigError';
  }
}

type Raw = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

class Validator {
  constructor(private readonly file: string) {}

  fail(code: ConfigErrorCode, key: string, what: string): never {
    throw new ConfigError(code, what, { file: this.file, section: key || '(top level)' });
  }

  mapping(v: unknown, key: string, allowed: readonly string[]): Raw {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail('not-mapping', key, `expected a mapping, got ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail('unknown-key', key ? `${key}.${k}` : k, `unknown key (expected one of: ${allowed.join(', ')})`);
    }
    return v as Raw;
  }

  word<T extends string>(v: unknown, key: string, words: readonly T[]): T {
    if (typeof v !== 'string') this.fail('wrong-type', key, `expected one of ${words.join('|')}, got ${describe(v)}`);
    if (!(words as readonly string[]).includes(v)) this.fail('bad-value', key, `expected one of ${words.join('|')}, got "${v.slice(0, 40)}"`);
    return v as T;
  }

  int(v: unknown, key: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail('wrong-type', key, `expected an integer, got ${describe(v)}`);
    if (v < min || v > max) this.fail('bad-value', key, `expected an integer in [${min}, ${max}], got ${v}`);
    return v;
  }

  bool(v: unknown, key: string): boolean {
    if (typeof v !== 'boolean') this.fail('wrong-type', key, `expected true or false, got ${describe(v)}`);
    return v;
  }

  absPath(v: unknown, key: string): string {
    if (typeof v !== 'string') this.fail('wrong-type', key, `expected an absolute path, got ${describe(v)}`);
    if (!v.startsWith('/')) this.fail('bad-value', key, `expected an absolute path, got "${v.slice(0, 60)}"`);
    // Paths are taken inside --root: a `..` would climb out of it (refused rather than clamped).
    if (v.split('/').includes('..')) this.fail('bad-value', key, `".." is not allowed in paths, got "${v.slice(0, 60)}"`);
    return v;
  }

  /** A folder the daemon owns (it deletes files in it): never / itself. */
  ownDir(v: unknown, key: string): string {
    const p = this.absPath(v, key);
    if (posix.normalize(p).replace(/\/+$/, '') === '') this.fail('bad-value', key, 'must be a directory of its own, not /');
    return p;
  }

  list(v: unknown, key: string): unknown[] {
    if (!Array.isArray(v)) this.fail('wrong-type', key, `expected a list, got ${describe(v)}`);
    return v;
  }

  url(v: unknown, key: string): string {
    if (typeof v !== 'string') this.fail('wrong-type', key, `expected an http(s) URL, got ${describe(v)}`);
    let ok = false;
    try { ok = ['http:', 'https:'].includes(new URL(v).protocol); } catch { ok = false; }
    if (!ok) this.fail('bad-value', key, `expected an http(s) URL, got "${v.slice(0, 60)}"`);
    return v.replace(/\/+$/, '');
  }
}

/** Validate a parsed YAML document against the schema, filling defaults for absent keys. */
export function validateConfig(raw: unknown, file: string): DaemonConfig {
  const v: Validator = new Validator(file);
  if (raw === undefined || raw === null) return DEFAULT_CONFIG;
  const top = v.mapping(raw, '', ['policy', 'vars', 'debuginfo', 'jobs', 'runtimeDir', 'cacheDir', 'control', 'watch', 'companions', 'destination']);
  const d = DEFAULT_CONFIG;

  let policy = d.policy;
  if (top['policy'] !== undefined) {
    const p = v.mapping(top['policy'], 'policy', ['default', 'rules']);
    const rules: PolicyRule[] = [];
    if (p['rules'] !== undefined && p['rules'] !== null) {
      v.list(p['rules'], 'policy.rules').forEach((r, i) => {
        const key = `policy.rules[${i}]`;
        const rule = v.mapping(r, key, ['match', 'policy']);
        const match = rule['match'];
        if (typeof match !== 'string' || match === '') v.fail('wrong-type', `${key}.match`, `expected a non-empty glob string, got ${describe(match)}`);
        const glob = compileGlob(match);
        if (typeof glob === 'string') v.fail('bad-glob', `${key}.match`, glob);
        rules.push({ match, policy: v.word(rule['policy'], `${key}.policy`, POLICIES) });
      });
    }
    policy = { default: p['default'] === undefined ? d.policy.default : v.word(p['default'], 'policy.default', POLICIES), rules };
  }

  const vars = top['vars'] === undefined ? d.vars : v.word(top['vars'], 'vars', VAR_SETS);

  let debuginfo = d.debuginfo;
  if (top['debuginfo'] !== undefined) {
    const g = v.mapping(top['debuginfo'], 'debuginfo', ['paths', 'debuginfodUrls', 'debuginfodTimeoutMs', 'watch']);
    debuginfo = {
      paths: g['paths'] === undefined ? d.debuginfo.paths : v.list(g['paths'], 'debuginfo.paths').map((x, i) => v.absPath(x, `debuginfo.paths[${i}]`)),
      debuginfodUrls: g['debuginfodUrls'] === undefined ? d.debuginfo.debuginfodUrls : v.list(g['debuginfodUrls'], 'debuginfo.debuginfodUrls').map((x, i) => v.url(x, `debuginfo.debuginfodUrls[${i}]`)),
      debuginfodTimeoutMs: g['debuginfodTimeoutMs'] === undefined ? d.debuginfo.debuginfodTimeoutMs : v.int(g['debuginfodTimeoutMs'], 'debuginfo.debuginfodTimeoutMs', 100, 3_600_000),
      watch: g['watch'] === undefined ? d.debuginfo.watch : v.bool(g['watch'], 'debuginfo.watch'),
    };
  }

  let jobs = d.jobs;
  if (top['jobs'] !== undefined) {
    const j = v.mapping(top['jobs'], 'jobs', ['concurrency', 'timeoutSeconds', 'memoryMB']);
    jobs = {
      concurrency: j['concurrency'] === undefined ? d.jobs.concurrency : v.int(j['concurrency'], 'jobs.concurrency', 1, 64),
      timeoutSeconds: j['timeoutSeconds'] === undefined ? d.jobs.timeoutSeconds : v.int(j['timeoutSeconds'], 'jobs.timeoutSeconds', 1, 86400),
      memoryMB: j['memoryMB'] === undefined ? d.jobs.memoryMB : v.int(j['memoryMB'], 'jobs.memoryMB', 64, 1_048_576),
    };
  }

  let control = d.control;
  if (top['control'] !== undefined) {
    const c = v.mapping(top['control'], 'control', ['group']);
    const g = c['group'];
    if (g !== undefined && g !== null && (typeof g !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(g))) {
      v.fail(typeof g === 'string' ? 'bad-value' : 'wrong-type', 'control.group', `expected a group name or null, got ${describe(g)}`);
    }
    control = { group: typeof g === 'string' ? g : null };
  }

  let watch = d.watch;
  if (top['watch'] !== undefined) {
    const w = v.mapping(top['watch'], 'watch', ['pollIntervalMs', 'uevents']);
    watch = {
      pollIntervalMs: w['pollIntervalMs'] === undefined ? d.watch.pollIntervalMs : v.int(w['pollIntervalMs'], 'watch.pollIntervalMs', 50, 3_600_000),
      uevents: w['uevents'] === undefined ? d.watch.uevents : v.bool(w['uevents'], 'watch.uevents'),
    };
  }

  let companions = d.companions;
  if (top['companions'] !== undefined) {
    const c = v.mapping(top['companions'], 'companions', ['modprobe', 'softdeps', 'signKey', 'signCert']);
    const path = (k: 'signKey' | 'signCert'): string | null => (c[k] === undefined || c[k] === null ? null : v.absPath(c[k], `companions.${k}`));
    companions = {
      modprobe: c['modprobe'] === undefined ? d.companions.modprobe : v.bool(c['modprobe'], 'companions.modprobe'),
      softdeps: c['softdeps'] === undefined ? d.companions.softdeps : v.bool(c['softdeps'], 'companions.softdeps'),
      signKey: path('signKey'),
      signCert: path('signCert'),
    };
    if ((companions.signKey === null) !== (companions.signCert === null)) {
      v.fail('bad-value', companions.signKey === null ? 'companions.signKey' : 'companions.signCert', 'signKey and signCert go together: give both or neither');
    }
  }
  const destination = top['destination'] === undefined ? d.destination : v.word(top['destination'], 'destination', DESTINATIONS);

  const runtimeDir = top['runtimeDir'] === undefined ? d.runtimeDir : v.ownDir(top['runtimeDir'], 'runtimeDir');
  const cacheDir = top['cacheDir'] === undefined ? d.cacheDir : v.ownDir(top['cacheDir'], 'cacheDir');
  const [rt, cd] = [runtimeDir, cacheDir].map((p) => `${posix.normalize(p).replace(/\/+$/, '')}/`) as [string, string];
  if (rt.startsWith(cd) || cd.startsWith(rt)) v.fail('bad-value', 'cacheDir', `must not be, contain or lie inside runtimeDir (${runtimeDir})`);
  return { policy, vars, debuginfo, jobs, control, watch, destination, companions, runtimeDir, cacheDir };
}

export interface LoadedConfig {
  readonly config: DaemonConfig;
  /** File read, or undefined when the default file is absent and built-in defaults apply. */
  readonly file: string | undefined;
}

/**
 * Load and validate. `explicit` = the user named the file (--config): then a missing file is an
 * error; otherwise a missing default file yields the built-in defaults.
 */
export async function loadConfig(file: string, explicit: boolean): Promise<LoadedConfig> {
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError('not-found', 'configuration file does not exist', { file });
    return { config: DEFAULT_CONFIG, file: undefined };
  }
  // cosmiconfig reads the file itself: make sure first that it is a regular file of sane size
  // (a FIFO there would block the daemon's start-up, /dev/zero would fill its memory).
  try { withSafeFile(file, { maxBytes: FILE_LIMITS.config }, () => undefined); } catch (e) {
    throw new ConfigError('unreadable', e instanceof SafeFileError ? e.reason : String(e), { file });
  }
  const explorer = cosmiconfig('btf-extra', { searchStrategy: 'none', searchPlaces: [], cache: false });
  let result;
  try {
    result = await explorer.load(file);
  } catch (e) {
    // cosmiconfig's first line is only "YAML Error in FILE:"; the reason and its line:column follow.
    const lines = (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const msg = (lines[0]?.startsWith('YAML Error in') === true ? lines[1] : lines[0]) ?? 'unknown error';
    throw new ConfigError('syntax', `YAML does not parse: ${msg}`, { file });
  }
  return { config: validateConfig(result?.config ?? null, file), file };
}

/** Policy for one object: the first rule whose glob matches wins, else the default. */
export function policyFor(config: DaemonConfig, name: string): Policy {
  for (const rule of config.policy.rules) {
    const re = compileGlob(rule.match);
    if (typeof re !== 'string' && globMatches(re, name)) return rule.policy;
  }
  return config.policy.default;
}
