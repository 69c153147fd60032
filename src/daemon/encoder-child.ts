/**
 * A warm encoder (started by WarmEncoderPool in encoder.ts, never by hand): takes one job at a
 * time over the IPC pipe and replies with the extras' bytes or the error's class and code. The
 * base chain's shared prefix (vmlinux) stays parsed between jobs (BaseCache): that is what makes
 * it warm. Its limits (heap, resident memory, time) are enforced by the pool, which kills it.
 */
import { writeBtf } from '../btf/write.js';
import { BaseCache } from '../encoder/chain.js';
import { encodeObject } from '../encoder/encode.js';
import type { ChildJob, ChildReply } from './encoder.js';
import { replyToParent } from './node-child.js';

const send = replyToParent<ChildReply>('encoder-child');

const bases = new BaseCache();
process.on('message', (job: ChildJob) => {
  let reply: ChildReply;
  try {
    const base = bases.chain(job.bases);
    const r = encodeObject(job.debugFile, { base, mode: 'extras', vars: job.vars });
    reply = { id: job.id, ok: true, bytes: writeBtf(r.btf) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err as { code?: unknown }).code;
    reply = { id: job.id, ok: false, errorName: err.name, code: typeof code === 'string' ? code : undefined, message: err.message };
  }
  send(reply);
});
