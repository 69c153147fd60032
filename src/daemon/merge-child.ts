/**
 * The kernel view's worker process (started by KernelWorker in merge-worker.ts, never by hand):
 * keeps the parsed kernel base between jobs and answers part and join jobs over its IPC pipe. A
 * process rather than a thread so that, idle and gone, it gives all its memory back: a thread's
 * heap stayed in the daemon's resident size after it exited.
 */
import { libraryBtfOps } from './btf-ops.js';
import type { KernelJob, KernelReply, PartRef } from './merge-worker.js';
import { replyToParent } from './node-child.js';

const send = replyToParent<KernelReply>('merge-child');

let base: readonly Uint8Array[] = [];
/** Parts made here or sent with a join, by id, until the daemon says it dropped them. */
const kept = new Map<number, Uint8Array>();
const keptPart = (p: PartRef): Uint8Array => {
  if (p.bytes !== undefined) { kept.set(p.ref, p.bytes); return p.bytes; }
  const bytes = kept.get(p.ref);
  if (bytes === undefined) throw new Error(`part ${p.ref} is not kept by this worker`);
  return bytes;
};
process.on('message', (job: KernelJob) => {
  if (job.op === 'base') { base = job.base; return; }
  if (job.op === 'forget') { kept.delete(job.id); return; }
  let reply: KernelReply;
  try {
    const bytes = job.op === 'part' ? libraryBtfOps.kernelPart(base, job.chain, job.name) : libraryBtfOps.joinKernel(base, job.parts.map(keptPart));
    if (bytes instanceof Promise) throw new Error('the library\'s BTF operations are synchronous');
    if (job.op === 'part') kept.set(job.id, bytes);
    reply = { id: job.id, ok: true, bytes };
  } catch (e) {
    reply = { id: job.id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  send(reply);
});
