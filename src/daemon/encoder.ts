/**
 * Runs the encoder in a child process: isolation (a crash or a runaway heap kills the job, not the
 * daemon) and per-job limits: memory (V8 heap via --max-old-space-size, and the child is killed
 * when its resident memory, buffers included, goes over the same limit) and wall time (a kill timer).
 * Contract of `btf-extra encode`: exit 0 with OUT written is success; non-zero with one stderr
 * line is failure. The output is split BTF on the last --base.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processRssBytes } from '../host/process.js';
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
  constructor(message: string, readonly kind: 'exit' | 'timeout' | 'memory' | 'aborted' | 'spawn') {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'EncodeFailed';
  }
}

export interface ExtrasEncoder {
  encode(req: EncodeRequest): Promise<void>;
}

/** The btf-extra CLI next to this module in the same build (dist/ or a private outDir). */
export const BUNDLED_CLI = fileURLToPath(new URL('../cli/btf-extra.js', import.meta.url));

/** How often the child's resident memory is sampled against jobs.memoryMB. */
const RSS_SAMPLE_MS = 200;

export class ChildProcessEncoder implements ExtrasEncoder {
  constructor(
    private readonly cli: string = BUNDLED_CLI,
    private readonly node: string = process.execPath,
    private readonly rssOf: (pid: number) => number | undefined = processRssBytes,
  ) {}

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
      // The heap flag does not bound Buffers (a debug file read whole lives outside the heap).
      const limitBytes = req.memoryMB * 1024 * 1024;
      const sampler = setInterval(() => {
        const rss = child.pid === undefined ? undefined : this.rssOf(child.pid);
        if (rss !== undefined && rss > limitBytes) {
          kill(new EncodeFailed(`encoder killed: resident memory ${Math.round(rss / 1048576)} MB over jobs.memoryMB ${req.memoryMB}`, 'memory'));
        }
      }, RSS_SAMPLE_MS);
      const onAbort = (): void => kill(new EncodeFailed('encoder stopped (daemon shutting down or object unloaded)', 'aborted'));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        clearTimeout(timer);
        clearInterval(sampler);
        req.signal?.removeEventListener('abort', onAbort);
        reject(new EncodeFailed(`cannot start encoder: ${e.message}`, 'spawn'));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        clearInterval(sampler);
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
