/**
 * `btf-extra doctor`: can this host get -btf-extra for its kernel objects, and if not, what to
 * do. Kernel release, distribution (systeminformation on the real root; os-release under an
 * injected one), kernel BTF, debug info per loaded object (found the way the daemon finds it,
 * build ids checked; no network), debuginfod configuration, and whether the daemon answers.
 */
import { FILE_LIMITS, readRegularFileSync } from '../../util/safe-file.js';
import type { DaemonConfig } from '../../daemon/config.js';
import { fetchStatus } from '../../daemon/control/client.js';
import { DebuginfoFinder, installHint } from '../../daemon/debuginfo.js';
import { debuginfodUrls } from '../../daemon/debuginfod.js';
import { isCompanionModule } from '../../daemon/plan.js';
import { readElfBuildId } from '../../host/elf-build-id.js';
import type { OsRelease } from '../../host/os-release.js';
import { hostPaths } from '../../host/paths.js';
import { fsHostReader } from '../../host/reader.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { formatTable, LOCATION_OPTIONS, LOCATION_USAGE, locateDaemon, parseCommandArgs, printable } from './daemon-cli.js';

const usage = `Usage: btf-extra doctor [--json] [--root DIR] [--socket PATH] [--config FILE]

Check what btf-extrad needs on this host and say what to install or fix: kernel release,
distribution, kernel BTF, debug info for every loaded object (build ids checked), debuginfod
servers, and whether the daemon answers. Exit 1 when something essential is missing.
  --json           the full report (JSON)
${LOCATION_USAGE}`;

export const CHECK_LEVELS = ['ok', 'info', 'warn', 'fail'] as const;
export type CheckLevel = (typeof CHECK_LEVELS)[number];

export interface DoctorCheck {
  readonly name: string;
  readonly level: CheckLevel;
  readonly message: string;
  readonly hint?: string;
}

export interface ObjectDebuginfo {
  readonly name: string;
  readonly buildId: string | null;
  readonly hasBtf: boolean;
  /** Host view of the matching debug file, or null. */
  readonly debuginfo: string | null;
  readonly via: 'local' | 'build-id' | null;
  /** Why nothing matched (wrong build ids are named). */
  readonly problem: string | null;
}

export interface DoctorReport {
  readonly root: string;
  readonly kernelRelease: string | null;
  readonly distro: { readonly name: string; readonly id: string | null; readonly idLike: readonly string[] };
  readonly objects: readonly ObjectDebuginfo[];
  readonly installHint: string | null;
  readonly debuginfodUrls: readonly string[];
  readonly daemon: { readonly running: boolean; readonly detail: string };
  readonly checks: readonly DoctorCheck[];
}

/** The fields of systeminformation's osInfo() the doctor shows. */
export interface OsInfoLike { readonly distro: string; readonly release: string; readonly codename: string; readonly logofile: string }

export interface DoctorOptions {
  readonly root: string;
  readonly socket: string;
  readonly config: DaemonConfig;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Distribution source; default systeminformation on the real root, none under an injected root. */
  readonly osInfo?: (() => Promise<OsInfoLike>) | undefined;
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check kernel BTF, debug info per loaded module and the daemon; say what to install',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, { ...LOCATION_OPTIONS, json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0] ?? ''}'`);
    const where = await locateDaemon(values, io);
    const report = await diagnose({ root: where.paths.root, socket: where.socket, config: where.config });
    io.out(values.json ? `${JSON.stringify(report, null, 1)}\n` : formatReport(report));
    return report.checks.some((c) => c.level === 'fail') ? 1 : 0;
  },
};

/** systeminformation spawns processes (~30 ms+): load and call it only here. */
async function systemOsInfo(): Promise<OsInfoLike> {
  const si = await import('systeminformation');
  return si.default.osInfo();
}

export async function diagnose(opts: DoctorOptions): Promise<DoctorReport> {
  const host = fsHostReader(hostPaths(opts.root));
  const paths = host.paths;
  const checks: DoctorCheck[] = [];
  const env = opts.env ?? process.env;

  // Kernel release
  let release: string | null = null;
  try {
    release = await host.kernelRelease();
    checks.push({ name: 'kernel', level: 'ok', message: release });
  } catch (e) {
    checks.push({ name: 'kernel', level: 'fail', message: `cannot read the kernel release: ${oneLine(e)}` });
  }

  // Distribution: systeminformation for the name on the real host; os-release for the family either way.
  const os: OsRelease = await host.osRelease();
  let distroName = prettyName(paths.osReleaseFile) ?? os.id ?? 'unknown';
  let distroId = os.id ?? null;
  const osInfo = opts.osInfo ?? (paths.root === '/' ? systemOsInfo : undefined);
  if (osInfo) {
    try {
      const o = await osInfo();
      distroName = [o.distro, o.release, o.codename ? `(${o.codename})` : ''].filter((x) => x !== '').join(' ');
      distroId ??= o.logofile || null;
    } catch (e) {
      checks.push({ name: 'distro', level: 'info', message: `systeminformation failed (${oneLine(e)}); using os-release` });
    }
  }
  const family: OsRelease = { id: distroId ?? undefined, idLike: os.idLike };
  const hint = release === null ? null : installHint(family, release);
  checks.push({ name: 'distro', level: distroId === null ? 'warn' : 'ok', message: distroName,
    ...(distroId === null ? { hint: 'no /etc/os-release: install hints will be generic' } : {}) });

  // Kernel BTF
  const vmlinuxBtf = host.hasBtf('vmlinux');
  checks.push(vmlinuxBtf
    ? { name: 'btf', level: 'ok', message: `${paths.hostView(paths.sysBtf('vmlinux'))} present` }
    : { name: 'btf', level: 'fail', message: `${paths.hostView(paths.sysBtf('vmlinux'))} missing: the kernel has no BTF`,
      hint: 'btf-extra needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (and CONFIG_DEBUG_INFO_BTF_MODULES=y for modules)' });

  // Loaded objects and their debug info, found the way the daemon looks (without debuginfod: no network here).
  let modules: string[] = [];
  try {
    modules = (await host.loadedModules()).filter((m) => !isCompanionModule(m));
    checks.push({ name: 'modules', level: 'ok', message: `${modules.length} loaded module(s) in ${paths.hostView(paths.procModules)}` });
  } catch (e) {
    checks.push({ name: 'modules', level: 'fail', message: `cannot list loaded modules: ${oneLine(e)}` });
  }
  const objects: ObjectDebuginfo[] = [];
  if (release !== null) {
    const modulePaths = host.modulePaths(release);
    const finder = new DebuginfoFinder({
      paths, release, debugDirs: opts.config.debuginfo.paths, readBuildId: readElfBuildId, os: family,
      modulePath: (name) => modulePaths.get(name),
    });
    for (const name of ['vmlinux', ...modules]) {
      const buildId = await host.buildId(name);
      const found = await finder.find(name, buildId);
      objects.push({
        name, buildId: buildId ?? null, hasBtf: host.hasBtf(name),
        debuginfo: found.kind === 'found' ? paths.hostView(found.path) : null,
        via: found.kind === 'found' && found.via !== 'debuginfod' ? found.via : null,
        problem: found.kind === 'found' ? null : found.reason,
      });
    }
  }
  const withoutBtf = objects.filter((o) => o.name !== 'vmlinux' && !o.hasBtf).map((o) => o.name);
  if (withoutBtf.length > 0) {
    checks.push({ name: 'module-btf', level: 'warn', message: `${withoutBtf.length} loaded module(s) without BTF: ${withoutBtf.join(', ')}`,
      hint: 'extras are split on the module\'s own BTF: those modules get none (kernel needs CONFIG_DEBUG_INFO_BTF_MODULES=y)' });
  }
  const extrasFromKernel = objects.filter((o) => host.kernelExtras(o.name) !== undefined).map((o) => o.name);
  if (extrasFromKernel.length > 0) checks.push({ name: 'kernel-extras', level: 'info', message: `the kernel itself provides extras for: ${extrasFromKernel.join(', ')}` });

  // debuginfod
  const urls = debuginfodUrls(opts.config.debuginfo.debuginfodUrls, env);
  const urlSource = opts.config.debuginfo.debuginfodUrls.length > 0 ? 'config debuginfo.debuginfodUrls' : 'DEBUGINFOD_URLS';
  checks.push(urls.length > 0
    ? { name: 'debuginfod', level: 'ok', message: `${urls.join(' ')} (from ${urlSource})` }
    : { name: 'debuginfod', level: 'info', message: 'no debuginfod servers configured', hint: 'set debuginfo.debuginfodUrls in the config (or DEBUGINFOD_URLS) to fetch missing debug info' });

  // Debug info summary
  const missing = objects.filter((o) => o.debuginfo === null);
  if (objects.length > 0) {
    const mismatched = missing.filter((o) => o.problem !== null && /has build id/.test(o.problem)).map((o) => o.name);
    const message = `${objects.length - missing.length} of ${objects.length} loaded objects have matching debug info`
      + (missing.length > 0 ? `; missing: ${missing.map((o) => o.name).join(', ')}` : '')
      + (mismatched.length > 0 ? ` (wrong build id: ${mismatched.join(', ')})` : '');
    const extra = urls.length > 0 ? ' (or the daemon will try the debuginfod servers)' : '';
    checks.push(missing.length === 0
      ? { name: 'debuginfo', level: 'ok', message }
      : { name: 'debuginfo', level: 'warn', message, ...(hint !== null ? { hint: `${hint}${extra}` } : {}) });
  }

  // Daemon
  let daemon: DoctorReport['daemon'];
  try {
    const s = await fetchStatus(opts.socket, { timeoutMs: 3000 });
    daemon = { running: true, detail: `btf-extrad ${printable(String(s.version))} (pid ${s.pid}) answers on ${opts.socket}, ${s.objects.length} objects` };
    checks.push({ name: 'daemon', level: 'ok', message: daemon.detail });
  } catch (e) {
    daemon = { running: false, detail: oneLine(e) };
    checks.push({ name: 'daemon', level: 'warn', message: daemon.detail, hint: 'systemctl enable --now btf-extrad' });
  }

  return {
    root: paths.root, kernelRelease: release,
    distro: { name: distroName, id: distroId, idLike: os.idLike },
    objects, installHint: missing.length > 0 ? hint : null, debuginfodUrls: urls, daemon,
    checks: orderChecks(checks),
  };
}

const CHECK_ORDER = ['kernel', 'distro', 'btf', 'modules', 'module-btf', 'kernel-extras', 'debuginfo', 'debuginfod', 'daemon'] as const;

function orderChecks(checks: DoctorCheck[]): DoctorCheck[] {
  const rank = (c: DoctorCheck): number => { const i = (CHECK_ORDER as readonly string[]).indexOf(c.name); return i < 0 ? CHECK_ORDER.length : i; };
  return checks.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map((x) => x.c);
}

export function formatReport(r: DoctorReport): string {
  let out = `btf-extra doctor (root ${r.root})\n`;
  for (const c of r.checks) {
    out += `  ${c.level.padEnd(5)} ${c.name.padEnd(13)} ${printable(c.message)}\n`;
    if (c.hint) out += `  ${''.padEnd(5)} ${''.padEnd(13)} -> ${printable(c.hint)}\n`;
  }
  if (r.objects.length > 0) {
    out += '\n';
    out += formatTable(['OBJECT', 'BTF', 'BUILD ID', 'DEBUGINFO'], r.objects.map((o) => [
      o.name, o.hasBtf ? 'yes' : 'no', o.buildId ?? '-', o.debuginfo ?? `missing${o.problem && /has build id/.test(o.problem) ? ` (${o.problem.replace(/^no matching debuginfo: /, '')})` : ''}`,
    ]));
  }
  return out;
}

function prettyName(osReleaseFile: string): string | undefined {
  try {
    const m = /^PRETTY_NAME=(.*)$/m.exec(readRegularFileSync(osReleaseFile, { maxBytes: FILE_LIMITS.text }).toString('utf8'));
    return m?.[1]?.trim().replace(/^["']|["']$/g, '') || undefined;
  } catch { return undefined; }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ');
}
