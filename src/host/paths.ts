/**
 * The one module that knows where things live on a Linux host. Every path is built under an
 * injected root so tests and the demo run on a directory tree instead of the real kernel.
 */
import { join, posix, relative, resolve } from 'node:path';

export interface HostPaths {
  readonly root: string;
  /** Join a host-absolute path (e.g. from the config) under the root. */
  under(hostPath: string): string;
  /** Inverse of `under` for messages: the host-absolute spelling of a path under the root. */
  hostView(path: string): string;
  readonly procModules: string;
  /** The running kernel's symbols (names the verifier's by-name address lookup can find). */
  readonly procKallsyms: string;
  /** Where systemd mounts bpffs (pinned BPF objects, e.g. the bpf-hold programs). */
  readonly bpffsDir: string;
  readonly osRelease: string;
  readonly sysBtfDir: string;
  sysBtf(object: string): string;
  /** Kernel-provided extras, the RFC layout: /sys/kernel/btf_extra/<name>. */
  sysBtfExtra(object: string): string;
  /** Kernel-provided extras, the companion layout: /sys/kernel/btf/<name>-btf-extra. */
  sysBtfCompanion(object: string): string;
  moduleBuildIdNote(module: string): string;
  readonly kernelNotes: string;
  /** Default debuginfo roots (host-absolute; the config may replace them). */
  readonly defaultDebugDirs: readonly string[];
  /** Candidate debug files for vmlinux under one debug root, in preference order. */
  vmlinuxDebugCandidates(debugRoot: string, release: string): string[];
  /** Directory holding module debug files under one debug root (walked to build a name index). */
  moduleDebugDir(debugRoot: string, release: string): string;
  /** /usr/lib/debug/.build-id/xx/rest.debug under one debug root. */
  buildIdDebug(debugRoot: string, buildId: string): string;
  moduleTree(release: string): string;
  /** /etc/os-release (distro id for install hints). */
  readonly osReleaseFile: string;
  readonly configDir: string;
  readonly defaultConfigFile: string;
  readonly defaultRuntimeDir: string;
  readonly defaultCacheDir: string;
  readonly modprobeRunDir: string;
  readonly softdepFile: string;
  /** `none [integrity] confidentiality`: the bracketed word is the lockdown mode. */
  readonly lockdown: string;
  /** Y when the kernel loads signed modules only (module.sig_enforce=1 or CONFIG_MODULE_SIG_FORCE). */
  readonly moduleSigEnforce: string;
  /** 1 once module loading is disabled until reboot (kernel.modules_disabled). */
  readonly modulesDisabled: string;
}

export const HOST_DEFAULTS = {
  configFile: '/etc/btf-extra/config.yaml',
  runtimeDir: '/run/btf-extra',
  cacheDir: '/var/cache/btf-extra',
  debugDir: '/usr/lib/debug',
  /** The group database for control.group. Never under --root: the socket's gid is a real one. */
  groupFile: '/etc/group',
} as const;

/** /proc/<pid>/<file> of a real process (benchmarks measure the daemon they spawned). */
export function procPidFile(pid: number, file: 'stat' | 'status'): string {
  return `/proc/${pid}/${file}`;
}

export function hostPaths(rootDir = '/'): HostPaths {
  const root = resolve(rootDir);
  // Clamped: `..` can never climb above the root (posix normalize of an absolute path stops at /).
  const under = (p: string): string => join(root, posix.normalize(`/${p}`));
  const p = (...parts: string[]): string => join(root, ...parts);
  return {
    root,
    under,
    hostView: (path) => {
      const rel = relative(root, path);
      return rel.startsWith('..') ? path : `/${rel}`;
    },
    procModules: p('proc/modules'),
    procKallsyms: p('proc/kallsyms'),
    bpffsDir: p('sys/fs/bpf'),
    osRelease: p('proc/sys/kernel/osrelease'),
    sysBtfDir: p('sys/kernel/btf'),
    sysBtf: (o) => p('sys/kernel/btf', o),
    sysBtfExtra: (o) => p('sys/kernel/btf_extra', o),
    sysBtfCompanion: (o) => p('sys/kernel/btf', `${o}-btf-extra`),
    moduleBuildIdNote: (m) => p('sys/module', m, 'notes/.note.gnu.build-id'),
    kernelNotes: p('sys/kernel/notes'),
    defaultDebugDirs: [HOST_DEFAULTS.debugDir],
    vmlinuxDebugCandidates: (d, rel) => [
      join(under(d), 'boot', `vmlinux-${rel}`),          // Debian, Ubuntu
      join(under(d), 'lib/modules', rel, 'vmlinux'),      // Fedora, RHEL, Oracle
    ],
    moduleDebugDir: (d, rel) => join(under(d), 'lib/modules', rel),
    buildIdDebug: (d, id) => join(under(d), '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`),
    moduleTree: (rel) => p('lib/modules', rel),
    osReleaseFile: p('etc/os-release'),
    configDir: p('etc/btf-extra'),
    defaultConfigFile: under(HOST_DEFAULTS.configFile),
    defaultRuntimeDir: under(HOST_DEFAULTS.runtimeDir),
    defaultCacheDir: under(HOST_DEFAULTS.cacheDir),
    modprobeRunDir: p('run/modprobe.d'),
    softdepFile: p('run/modprobe.d/btf-extra.conf'),
    lockdown: p('sys/kernel/security/lockdown'),
    moduleSigEnforce: p('sys/module/module/parameters/sig_enforce'),
    modulesDisabled: p('proc/sys/kernel/modules_disabled'),
  };
}
