/**
 * Facts about a running process of this machine (an encoder child), from /proc/<pid>/status.
 * Always the real /proc: the processes are real even when the daemon works on an injected root.
 */
import { readFileSync } from 'node:fs';
import { procPidFile } from './paths.js';

/** Resident set size in bytes (VmRSS), or undefined when the process is gone or has no such line. */
export function processRssBytes(pid: number): number | undefined {
  let text: string;
  try { text = readFileSync(procPidFile(pid, 'status'), 'utf8'); } catch { return undefined; }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
}
