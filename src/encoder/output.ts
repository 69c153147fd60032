/**
 * The last gate before an encoded level is written: it must be valid BTF (kernel and libbpf
 * rules, btf/validate.ts); otherwise EncoderError('invalid-output') and nothing is written.
 */
import type { Btf } from '../btf/btf.js';
import { BTF_MAX_TYPE, KIND, forEachTypeId } from '../btf/kinds.js';
import { formatProblem, validateBtf } from '../btf/validate.js';
import { EncoderError } from './errors.js';

/** Throws EncoderError('too-many-types') when a level would need ids past the kernel's limit. */
export function checkTypeLimit(lastId: number, file: string): void {
  if (lastId > BTF_MAX_TYPE) {
    throw new EncoderError('too-many-types', `output needs type ids up to ${lastId}, over the kernel's ${BTF_MAX_TYPE}`, { file });
  }
}

/** Throws EncoderError('invalid-output') naming the first problem. */
export function checkEncoded(btf: Btf, file: string): void {
  const problems = encodedProblems(btf);
  if (problems.length > 0) {
    throw new EncoderError('invalid-output', `encoded BTF is invalid (${problems.length} problems), first: ${problems[0]!.text}`, { file });
  }
}

/** Every problem of the level, the encoder's own checks first, with the type id when there is one. */
export function encodedProblems(btf: Btf): { id?: number | undefined; text: string }[] {
  return [...basicProblems(btf), ...validateBtf(btf).map((p) => ({ id: p.id, text: formatProblem(p) }))];
}

/** Checks the encoder itself can get wrong: dangling ids and DATASEC layout. */
function basicProblems(btf: Btf): { id: number; text: string }[] {
  const out: { id: number; text: string }[] = [];
  const add = (id: number, text: string): void => { out.push({ id, text: `[${id}] ${text}` }); };
  btf.types.forEach((t, i) => {
    const id = btf.startId + i;
    forEachTypeId(t, (ref) => { if (ref !== 0 && !btf.hasType(ref)) add(id, `references missing type ${ref}`); });
    if (t.kind === KIND.DATASEC) {
      let end = 0;
      for (const v of t.vars) {
        if (v.offset < end) add(id, `DATASEC entries overlap or are unsorted at offset ${v.offset}`);
        if (v.size === 0 || v.offset + v.size > t.size) add(id, `DATASEC entry at ${v.offset} size ${v.size} outside size ${t.size}`);
        if (btf.tryType(v.type)?.kind !== KIND.VAR) add(id, `DATASEC entry ${v.type} is not a VAR`);
        end = v.offset + v.size;
      }
    }
  });
  return out;
}
