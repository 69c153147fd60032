/**
 * Hazard 1, second hold mechanism: a pinned BPF program. 6.1's verifier (check_pseudo_btf_id), for
 * an `ld_imm64` with src_reg BPF_PSEUDO_BTF_ID whose second half names a module's BTF object by fd,
 * takes a reference on that module (btf_try_get_module) and keeps it in the program's used_btfs
 * until the program is freed. A three-instruction program referencing one VAR through the base
 * module's BTF fd therefore holds the base (`rmmod base`: in use), and pinning it in bpffs makes the
 * hold outlive the daemon; unlinking the pin releases it. This works for any module with BTF, with
 * or without exports, and needs no code in the companion. See docs/kmod.md.
 *
 * Node has no bpf(2): the program is loaded by a small Perl program (Perl's builtin syscall(), and
 * perl-base is Essential on Debian), embedded here so it ships inside dist/. Its CLI:
 *   perl - hold MODULE BTF_ID PIN_PATH   load and pin; prints "held MODULE prog_id=N btf_obj_id=M"
 *   perl - probe MODULE BTF_ID           load and close (checks that the mechanism works)
 * MODULE vmlinux uses btf fd 0 (vmlinux BTF: holds nothing, handy where no module BTF exists).
 * Errors: one line on stderr, and an exit code per kind (HOLD_EXIT).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Btf } from '../btf/btf.js';
import { KIND, type Kind } from '../btf/kinds.js';
import type { TypeId } from '../btf/types.js';
import { KmodError, type KmodErrorCode } from './errors.js';
import type { KallsymsIndex } from './kallsyms.js';

/** The Perl program (struct layouts and bpf_cmd numbers checked against 6.1's uapi linux/bpf.h). */
export const HOLD_PROGRAM = String.raw`use strict;
use warnings;
use Config ();
use Errno ();

# Exit codes (the TypeScript side maps them to KmodError codes).
my %EXIT = (usage => 2, no_btf => 3, refused => 4, pin => 5, denied => 6, unsupported => 7, failed => 8);
# bpf_cmd numbers and struct layouts: include/uapi/linux/bpf.h (unchanged since they were added).
my %CMD = (prog_load => 5, obj_pin => 6, obj_get_info_by_fd => 15, btf_get_fd_by_id => 19, btf_get_next_id => 23);
my $PROG_TYPE_SOCKET_FILTER = 1;
my $PSEUDO_BTF_ID = 3;
my $LOG_SIZE = 65536;
# (bpf, close) syscall numbers per architecture: x86_64's table, and the generic one of arm64.
my %SYSCALLS = (x86_64 => [321, 3], aarch64 => [280, 57]);

sub fail {
    my ($code, $msg) = @_;
    $msg =~ s/[\r\n]+/ /g;
    print STDERR "bpf-hold: $msg\n";
    exit $EXIT{$code};
}

sub errname {
    my ($errno) = @_;
    local $! = $errno;
    for my $name (sort keys %!) { return $name if $!{$name}; }
    return "errno $errno";
}

my ($arch) = split /-/, $Config::Config{archname};
my $sys = $SYSCALLS{$arch} or fail('unsupported', "no bpf(2) syscall number known for architecture $arch");
my ($SYS_BPF, $SYS_CLOSE) = @$sys;

# bpf(cmd, attr): the kernel reads and may write the caller's buffer ($_[1] aliases it).
sub bpf {
    my $r = syscall($SYS_BPF, $_[0] + 0, $_[1], length($_[1]));
    return ($r, $r < 0 ? $! + 0 : 0);
}
sub close_fd { syscall($SYS_CLOSE, $_[0] + 0) if $_[0] > 0; }
# Address of a scalar's string buffer (pack 'p' forces it to be the scalar's own).
sub addr { return unpack('J', pack('p', $_[0])); }
sub buffer { my $b = "\0" x $_[0]; return $b; }

# Denied (not permitted / no bpf(2)) vs any other failure of a lookup step.
sub fail_step {
    my ($what, $errno) = @_;
    my $kind = ($errno == Errno::EPERM() || $errno == Errno::EACCES() || $errno == Errno::ENOSYS()) ? 'denied' : 'failed';
    fail($kind, "$what failed (" . errname($errno) . ")");
}

# The fd of the kernel BTF object named $module (0 = vmlinux: the verifier's default BTF).
sub module_btf_fd {
    my ($module) = @_;
    return (0, 0) if $module eq 'vmlinux';
    my $id = 0;
    while (1) {
        my $next = pack('L L L', $id, 0, 0);
        my ($r, $errno) = bpf($CMD{btf_get_next_id}, $next);
        if ($r < 0) {
            last if $errno == Errno::ENOENT();
            fail_step('BPF_BTF_GET_NEXT_ID', $errno);
        }
        $id = unpack('x4 L', $next);
        my $get = pack('L L L', $id, 0, 0);
        my ($fd, $e2) = bpf($CMD{btf_get_fd_by_id}, $get);
        if ($fd < 0) {
            next if $e2 == Errno::ENOENT();    # unloaded since it was listed
            fail_step("BPF_BTF_GET_FD_BY_ID $id", $e2);
        }
        my $name = buffer(64);
        my $info = pack('Q L L Q L L', 0, 0, 0, addr($name), length($name), 0);
        my $query = pack('L L Q', $fd, length($info), addr($info));
        my ($r3, $e3) = bpf($CMD{obj_get_info_by_fd}, $query);
        if ($r3 < 0) { close_fd($fd); fail_step("BPF_OBJ_GET_INFO_BY_FD of BTF $id", $e3); }
        my $kernel_btf = unpack('x28 L', $info);
        return ($fd, $id) if $kernel_btf && unpack('Z*', $name) eq $module;
        close_fd($fd);
    }
    fail('no_btf', "no kernel BTF object named '$module' is loaded (module not loaded, or built without BTF)");
}

sub load_attr {
    my ($insns, $license, $log_level, $log) = @_;
    my $log_addr = $log_level ? addr($_[3]) : 0;
    return pack('L L Q Q L L Q L L a16 x8', $PROG_TYPE_SOCKET_FILTER, length($insns) / 8, addr($_[0]), addr($_[1]),
        $log_level, $log_level ? length($log) : 0, $log_addr, 0, 0, 'btfx_hold');
}

# Loads 'ld_imm64 r1, <BTF id $type_id of $btf_fd>; r0 = 0; exit'; returns the program fd.
sub load_hold_prog {
    my ($btf_fd, $type_id) = @_;
    my $insns = pack('C C s l', 0x18, 0x10 * $PSEUDO_BTF_ID + 1, 0, $type_id)   # ld_imm64 r1 (BPF_LD|BPF_IMM|BPF_DW)
        . pack('C C s l', 0, 0, 0, $btf_fd)                                       # its second half: the BTF fd
        . pack('C C s l', 0xb7, 0, 0, 0)                                          # r0 = 0 (BPF_ALU64|BPF_MOV|BPF_K)
        . pack('C C s l', 0x95, 0, 0, 0);                                         # exit
    my $license = "GPL";
    my $attr = load_attr($insns, $license, 0, '');
    my ($fd, $errno) = bpf($CMD{prog_load}, $attr);
    return $fd if $fd >= 0;
    fail('denied', 'BPF_PROG_LOAD not permitted (' . errname($errno) . ')') if $errno == Errno::EPERM() || $errno == Errno::ENOSYS();
    # Again with the verifier's log, for its reason.
    my $log = buffer($LOG_SIZE);
    my $logged = load_attr($insns, $license, 1, $log);
    my ($fd2, $errno2) = bpf($CMD{prog_load}, $logged);
    return $fd2 if $fd2 >= 0;
    my @lines = grep { /\S/ && !/^(?:processed \d+ insns|verification time)/ } split /\n/, unpack('Z*', $log);
    my $reason = @lines ? ": $lines[-1]" : '';
    fail('refused', "kernel refused the hold program (BPF_PROG_LOAD " . errname($errno2) . ")$reason");
}

sub prog_id {
    my ($fd) = @_;
    my $info = buffer(8);
    my $query = pack('L L Q', $fd, length($info), addr($info));
    my ($r, $errno) = bpf($CMD{obj_get_info_by_fd}, $query);
    fail_step('BPF_OBJ_GET_INFO_BY_FD of the program', $errno) if $r < 0;
    return unpack('x4 L', $info);
}

# Pins under a temporary name, then renames over PIN_PATH: an existing hold is replaced, never
# absent in between. bpffs refuses names with dots (reserved), hence the suffix.
sub pin {
    my ($fd, $path) = @_;
    my ($dir) = $path =~ m{^(.*)/[^/]+$};
    if (defined $dir && length $dir && !-d $dir) {
        mkdir($dir, 0700) or fail('pin', "cannot create $dir (" . errname($! + 0) . ")");
    }
    my $pending = $path . "_pending";
    unlink($pending);
    my $attr = pack('Q L L', addr($pending), $fd, 0);
    my ($r, $errno) = bpf($CMD{obj_pin}, $attr);
    fail('pin', "BPF_OBJ_PIN at $pending failed (" . errname($errno) . ")") if $r < 0;
    if (!rename($pending, $path)) {
        my $e = $! + 0;
        unlink($pending);
        fail('pin', "cannot rename the pin to $path (" . errname($e) . ")");
    }
}

my ($verb, $module, $type_id, $path) = @ARGV;
my $usage = 'usage: hold MODULE BTF_ID PIN_PATH | probe MODULE BTF_ID';
fail('usage', $usage) unless defined $verb && ($verb eq 'hold' && @ARGV == 4 || $verb eq 'probe' && @ARGV == 3);
fail('usage', "bad module name '$module'") unless $module =~ /^[A-Za-z0-9_-]{1,55}$/;
fail('usage', "bad BTF id '$type_id'") unless $type_id =~ /^[1-9][0-9]{0,9}$/ && $type_id < 2**31;
fail('usage', "bad pin path '$path' (absolute, last component without dots)") if $verb eq 'hold' && $path !~ m{^/(?:[^\n]*/)?[^/.\n]+$};

my ($btf_fd, $btf_obj_id) = module_btf_fd($module);
my $prog_fd = load_hold_prog($btf_fd, $type_id);
close_fd($btf_fd);    # the program keeps its own reference
my $id = prog_id($prog_fd);
if ($verb eq 'hold') {
    pin($prog_fd, $path);
    print "held $module prog_id=$id btf_obj_id=$btf_obj_id\n";
} else {
    print "probed $module prog_id=$id btf_obj_id=$btf_obj_id\n";
}
close_fd($prog_fd);
exit 0;
`;

/** Exit codes of HOLD_PROGRAM. */
export const HOLD_EXIT = { ok: 0, usage: 2, noBtf: 3, refused: 4, pinFailed: 5, denied: 6, unsupported: 7, failed: 8 } as const;

/** What one run of the program gave. */
export interface HoldRun {
  /** Exit status, or null when killed by a signal. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because it outlived the timeout. */
  readonly timedOut: boolean;
}

/**
 * Runs HOLD_PROGRAM with `args`. Rejects (with the spawn error, e.g. code ENOENT) only when the
 * interpreter cannot be started. Injected so tests can stand in for perl and the kernel.
 */
export type HoldRunner = (args: readonly string[], program: string, timeoutMs: number) => Promise<HoldRun>;

/** The real runner: `PERL - ARGS` with the program on stdin. */
export function perlRunner(perl = 'perl'): HoldRunner {
  return (args, program, timeoutMs) => new Promise<HoldRun>((resolve, reject) => {
    const child = spawn(perl, ['-', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < 65536) stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 65536) stderr += s; });
    child.stdin.on('error', () => { /* the child exited early: its status says why */ });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status, signal) => { clearTimeout(timer); resolve({ status, signal, stdout, stderr, timedOut }); });
    child.stdin.end(program);
  });
}

export interface HoldTarget {
  /** Kernel module name as in /sys/kernel/btf (or 'vmlinux'). */
  readonly module: string;
  /** Type id of a VAR (or, on kernels that accept it, FUNC) in MODULE's BTF chain: pickHoldSymbol. */
  readonly btfId: TypeId;
  readonly timeoutMs?: number;
}

export interface HoldResult {
  readonly progId: number;
  /** Id of MODULE's kernel BTF object (0 for vmlinux, reached through fd 0). */
  readonly btfObjectId: number;
}

export const DEFAULT_HOLD_TIMEOUT_MS = 10_000;
const MODULE_NAME = /^[A-Za-z0-9_-]{1,55}$/;

const EXIT_CODE: Readonly<Record<number, KmodErrorCode>> = {
  [HOLD_EXIT.noBtf]: 'hold-no-btf',
  [HOLD_EXIT.refused]: 'hold-refused',
  [HOLD_EXIT.pinFailed]: 'hold-pin-failed',
  [HOLD_EXIT.denied]: 'hold-denied',
  [HOLD_EXIT.unsupported]: 'hold-unavailable',
};

function checkTarget(t: HoldTarget): void {
  if (!MODULE_NAME.test(t.module)) throw new KmodError('bad-name', `cannot hold module '${t.module}': not a module name`, {}, { module: t.module });
  if (!Number.isInteger(t.btfId) || t.btfId < 1 || t.btfId > 0x7fffffff) {
    throw new KmodError('hold-failed', `cannot hold ${t.module}: BTF id ${t.btfId} is not a type id`, {}, { module: t.module, btfId: t.btfId });
  }
}

async function runHold(run: HoldRunner, args: readonly string[], t: HoldTarget): Promise<HoldResult> {
  const what = `${args[0]} ${t.module} (BTF id ${t.btfId})`;
  const details = { module: t.module, btfId: t.btfId };
  const timeoutMs = t.timeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
  let r: HoldRun;
  try {
    r = await run(args, HOLD_PROGRAM, timeoutMs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KmodError('hold-unavailable', `${what}: cannot run perl (${code ?? String(e)}): install perl-base`, {}, { ...details, errno: code });
  }
  if (r.timedOut) throw new KmodError('hold-failed', `${what}: no answer after ${timeoutMs} ms`, {}, details);
  const reason = r.stderr.trim().split('\n').pop()?.replace(/^bpf-hold: /, '') ?? '';
  if (r.status !== HOLD_EXIT.ok) {
    const code = (r.status !== null ? EXIT_CODE[r.status] : undefined) ?? 'hold-failed';
    const how = r.status !== null ? `exit ${r.status}` : `signal ${r.signal ?? '?'}`;
    throw new KmodError(code, `${what}: ${reason || how}`, {}, { ...details, exit: r.status, signal: r.signal });
  }
  const m = /^(?:held|probed) \S+ prog_id=(\d+) btf_obj_id=(\d+)$/m.exec(r.stdout);
  if (m === null) throw new KmodError('hold-failed', `${what}: unexpected output '${r.stdout.trim().slice(0, 80)}'`, {}, details);
  return { progId: Number(m[1]), btfObjectId: Number(m[2]) };
}

/**
 * Loads the hold program referencing `btfId` through MODULE's BTF object and pins it at `pinPath`
 * (an existing pin there is replaced without a gap). The parent directory is created if missing.
 */
export async function holdModule(run: HoldRunner, o: HoldTarget & { readonly pinPath: string }): Promise<HoldResult> {
  checkTarget(o);
  if (!/^\/(?:.*\/)?[^/.\n]+$/.test(o.pinPath)) {
    throw new KmodError('hold-pin-failed', `cannot pin at '${o.pinPath}': needs an absolute path whose last part has no dot (bpffs reserves dotted names)`,
      {}, { module: o.module, pinPath: o.pinPath });
  }
  return runHold(run, ['hold', o.module, String(o.btfId), o.pinPath], o);
}

/** Loads the hold program and closes it again: whether MODULE can be held this way, right now. */
export async function probeHold(run: HoldRunner, o: HoldTarget): Promise<HoldResult> {
  checkTarget(o);
  return runHold(run, ['probe', o.module, String(o.btfId)], o);
}

/**
 * Drops a hold: unlinks the pin (a missing one is fine). The kernel frees the program, and puts the
 * module, after an RCU grace period and a workqueue pass, so `rmmod` may see it in use a moment longer.
 * Only while the base is still loaded: after `rmmod -f base` (MODULE_FORCE_UNLOAD) the program's
 * module_put hits freed memory (an oops in the 6.1 VM); leave such a pin until reboot.
 */
export function releaseHold(pinPath: string): void {
  rmSync(pinPath, { force: true });
  rmSync(`${pinPath}_pending`, { force: true });
}

/** Where the hold of `module` is pinned: one file per held module under BPFFS_DIR/btf-extra. */
export function holdPinPath(bpffsDir: string, module: string): string {
  if (!MODULE_NAME.test(module)) throw new KmodError('bad-name', `no hold pin for '${module}': not a module name`, {}, { module });
  return join(bpffsDir, 'btf-extra', `hold-${module}`);
}

/** The BTF type a hold program references. */
export interface HoldSymbol {
  readonly id: TypeId;
  readonly name: string;
  readonly kind: 'var' | 'func';
  /** The module's own split part, or the vmlinux part of its chain. */
  readonly level: 'module' | 'vmlinux';
}

/**
 * The type to reference, or undefined when the chain has none usable. Rules (6.1 source):
 *  - 6.1 accepts only a VAR (a FUNC is refused: "isn't KIND_VAR"; later kernels accept FUNCs too), so
 *    VARs come first, FUNCs last;
 *  - the id is looked up through the module's BTF, which walks down to vmlinux (btf_type_by_id),
 *    and the module held is the owner of the fd whatever level the id lands in: a vmlinux VAR works
 *    for every module with BTF (6.1 module BTF rarely has own VARs: 38 in 1121 modules);
 *  - kallsyms_lookup_name(name) must be non-zero: with KALLSYMS, only names it lists; a vmlinux VAR
 *    must not sit at offset 0 of its DATASEC (x86_64 lists per-CPU symbols at their section offset);
 * then the module's own part before vmlinux's, lowest id first: the same chain always gives the same.
 */
export function pickHoldSymbol(moduleBtf: Btf, kallsyms?: KallsymsIndex): HoldSymbol | undefined {
  const own = moduleBtf;
  const root = moduleBtf.chain()[0]!;
  const zeroOffset = datasecZeroOffsetVars(root);
  const listed = (name: string): boolean => kallsyms === undefined || (kallsyms.get(name)?.length ?? 0) > 0;
  const pick = (level: Btf, kind: Kind): HoldSymbol | undefined => {
    for (let id = level.startId; id < level.nextId; id++) {
      if (level.kindOf(id) !== kind) continue;
      const name = level.str(level.nameOffOf(id)!);
      if (name === '' || !listed(name)) continue;
      if (level === root && kind === KIND.VAR && zeroOffset.has(id)) continue;
      return { id, name, kind: kind === KIND.VAR ? 'var' : 'func', level: level.base === undefined ? 'vmlinux' : 'module' };
    }
    return undefined;
  };
  const levels = own === root ? [root] : [own, root];
  for (const kind of [KIND.VAR, KIND.FUNC] as const) {
    for (const level of levels) {
      const found = pick(level, kind);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** VARs placed at offset 0 of a DATASEC of `level` (their kallsyms address may read as 0). */
function datasecZeroOffsetVars(level: Btf): Set<TypeId> {
  const out = new Set<TypeId>();
  for (let id = level.startId; id < level.nextId; id++) {
    if (level.kindOf(id) !== KIND.DATASEC) continue;
    const t = level.type(id);
    if (t.kind !== KIND.DATASEC) continue;
    for (const v of t.vars) if (v.offset === 0) out.add(v.type);
  }
  return out;
}
