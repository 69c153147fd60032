/**
 * Runs the encoder in a child process: isolation (a crash or a runaway heap kills the job, not the
 * daemon) and per-job limits (V8 heap via --max-old-space-size, wall time via a kill timer).
 * Contract of `btf-extra encode`: exit 0 with OUT written is success; non-zero with one stderr
 * line is failure. The output is split BTF on the last --base.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { VarSet } from './config.js';

export interface EncodeRequest {
  readonly debugFile: string;
  /** Base chain, root first (vmlinux, then the module's BTF). */
  readonly bases: readonly string[];
  readonly vars: VarSet;
  readonly out: string;
  readonly timeoutMs: number;
  readonly memoryMB: number;
  readonly signal?: AbortSignal | undefined;
}

export class EncodeFailed extends Error {
  constructor(message: string, readonly kind: 'exit' | 'timeout' | 'aborted' | 'spawn') {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'EncodeFailed';
  }
}

export interface ExtrasEncoder {
  encode(req: EncodeRequest): Promise<void>;
}

/** The btf-extra CLI next to this module in the same build (dist/ or a private outDir). */
export const BUNDLED_CLI = fileURLToPath(new URL('../cli/btf-extra.js', import.meta.url));

export class ChildProcessEncoder implements ExtrasEncoder {
  constructor(private readonly cli: string = BUNDLED_CLI, private readonly node: string = process.execPath) {}

  encode(req: EncodeRequest): Promise<void> {
    const args = [`--max-old-space-size=${req.memoryMB}`, this.cli, 'encode', req.debugFile];
    for (const b of req.bases) args.push('--base', b);
    args.push('--vars', req.vars, '-o', req.out);
    return new Promise((resolve, reject) => {
      if (req.signal?.aborted) { reject(new EncodeFailed('aborted before start', 'aborted')); return; }
      const child = spawn(this.node, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let why: EncodeFailed | undefined;
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => { stderr = (stderr + d).slice(-8192); });
      const kill = (reason: EncodeFailed): void => {
        why ??= reason;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => kill(new EncodeFailed(`encoder killed after ${Math.round(req.timeoutMs / 1000)} s (jobs.timeoutSeconds)`, 'timeout')), req.timeoutMs);
      const onAbort = (): void => kill(new EncodeFailed('encoder stopped (daemon shutting down or object unloaded)', 'aborted'));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        reject(new EncodeFailed(`cannot start encoder: ${e.message}`, 'spawn'));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (why) { reject(why); return; }
        if (code === 0) { resolve(); return; }
        const last = stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '';
        const oom = /heap out of memory|Allocation failed/.test(stderr);
        reject(new EncodeFailed(oom ? `encoder ran out of memory (jobs.memoryMB ${req.memoryMB})` : `encoder exited ${code ?? sig}${last ? `: ${last}` : ''}`, 'exit'));
      });
    });
  }
}
