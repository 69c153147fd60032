/**
 * `btf-extra encode`: ELF + DWARF object -> BTF split on a base chain (src/encoder).
 * The daemon runs `encode DEBUGFILE --base VMLINUX_BTF [--base MODULE_BTF] --vars all -o OUT`
 * as a child process: that form is a stable contract (exit 0 = OUT written and valid).
 */
import { parseArgs } from 'node:util';
import { writeBtf } from '../../btf/write.js';
// Direct imports (not encoder/index.js): the daemon starts this command once per module, so it
// loads only what encoding needs.
import { BaseCache } from '../../encoder/chain.js';
import { encodeObject, type EncodeMode } from '../../encoder/encode.js';
import { EncoderError, formatWarning } from '../../encoder/errors.js';
import { EXCLUSION, type Selection, type VarsPolicy } from '../../encoder/select.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { FILE_LIMITS, readRegularFileSync, SafeFileError } from '../../util/safe-file.js';
import { UsageError, type CliIo, type Command } from '../command.js';

const usage = `Usage: btf-extra encode OBJECT [--base FILE]... [--mode extras|full] [--vars all|percpu|none] [-o OUT]
       btf-extra encode --batch LIST [--mode ...] [--vars ...]

Encode OBJECT's DWARF (vmlinux or a kernel module) as BTF split on the last --base.
--base lists the chain root first (raw BTF, an ELF with .BTF, or either gzip-compressed):
  --base vmlinux --base kvm   means the output is split on kvm, which is split on vmlinux.

Options:
  --mode extras   (default) only the variables the last --base lacks, plus the types they need
                  that the chain lacks; one DATASEC per ELF section
  --mode full     all types, functions and variables, as pahole 1.24 -J --btf_base encodes them
  --vars all|percpu|none   which variables (default: all for extras, percpu for full)
  -o, --output OUT   where to write the BTF (atomically); default OBJECT.btf
  --batch LIST    encode many objects in one process; LIST has one job per line:
                    OBJECT OUT [BASE...]
                  whitespace-separated (no spaces in paths), bases root first; blank lines and
                  lines starting with # are ignored. --mode/--vars apply to every job. Prints
                  "ok OBJECT -> OUT ..." per job; exit 1 if any job failed (the others still run).
  -j, --jobs N    threads for decoding a vmlinux-sized object in full mode (default: the
                  machine's available parallelism); the output is the same bytes for any N
  --quiet         do not print warnings (skipped DIEs)
  --timings       print the time spent in each phase on stderr
  --explain       write nothing; list every variable with its section, offset and size, and
                  either "kept" or the rule that leaves it out (the same rules as encoding)
  --dedup         also run the libbpf-equivalent dedup over the new level in extras mode (full
                  mode always does); extras normally need none: every type is matched first

Exit status: 0 written, 1 error (one line on stderr), 2 usage.
`;

interface Job { readonly object: string; readonly out: string; readonly bases: readonly string[] }

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'encode an object\'s DWARF as BTF (extras or full) split on a base chain',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv], allowPositionals: true,
        options: {
          base: { type: 'string', multiple: true },
          mode: { type: 'string' },
          vars: { type: 'string' },
          output: { type: 'string', short: 'o' },
          batch: { type: 'string' },
          quiet: { type: 'boolean' },
          timings: { type: 'boolean' },
          dedup: { type: 'boolean' },
          explain: { type: 'boolean' },
          jobs: { type: 'string', short: 'j' },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const v = parsed.values;
    const mode = (v.mode ?? 'extras') as EncodeMode;
    if (mode !== 'extras' && mode !== 'full') throw new UsageError(`--mode must be extras or full, not '${v.mode}'`);
    if (v.vars !== undefined && v.vars !== 'all' && v.vars !== 'percpu' && v.vars !== 'none') {
      throw new UsageError(`--vars must be all, percpu or none, not '${v.vars}'`);
    }
    const vars = v.vars as VarsPolicy | undefined;
    const threads = v.jobs === undefined ? undefined : Number(v.jobs);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 256)) {
      throw new UsageError(`--jobs must be a whole number from 1 to 256, not '${v.jobs}'`);
    }
    let jobs: Job[];
    if (v.batch !== undefined) {
      if (parsed.positionals.length > 0 || v.output !== undefined || v.base !== undefined) {
        throw new UsageError('--batch takes objects, outputs and bases from LIST only');
      }
      jobs = readBatch(v.batch);
    } else {
      if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one OBJECT (see --help)');
      const object = parsed.positionals[0]!;
      jobs = [{ object, out: v.output ?? `${object}.btf`, bases: v.base ?? [] }];
    }
    const cache = new BaseCache();
    let failed = 0;
    for (const job of jobs) {
      try {
        const base = cache.chain(job.bases);
        const r = encodeObject(job.object, { base, mode, threads, ...(vars ? { vars } : {}), ...(v.dedup ? { dedup: true } : {}) });
        if (v.explain) { io.out(explainSelection(r.selection)); continue; }
        writeFileAtomic(job.out, writeBtf(r.btf));
        if (!v.quiet) for (const w of r.warnings) io.err(`warning: ${formatWarning(job.object, w)}\n`);
        if (v.timings) {
          const t = r.stats.timings;
          io.err(`timings: ${job.object}: walk ${t.walk.toFixed(0)} ms, types ${t.types.toFixed(0)} ms (${t.protos} protos), match ${t.match.toFixed(0)} ms, emit ${t.emit.toFixed(0)} ms, dedup ${t.dedup.toFixed(0)} ms; ${r.stats.chunks} chunk(s) on ${r.stats.threads} thread(s)\n`);
        }
        if (v.batch !== undefined) {
          io.out(`ok ${job.object} -> ${job.out} (${r.stats.variables} variables, ${r.stats.newTypes} new types)\n`);
        }
      } catch (e) {
        if (v.batch === undefined) throw e;
        failed++;
        io.err(`btf-extra encode: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    return failed > 0 ? 1 : 0;
  },
};

/** One line per variable: kept ones by section and offset, then the excluded ones by DIE offset. */
export function explainSelection(sel: Selection): string {
  const lines: string[] = [];
  for (const sec of sel.sections) {
    for (const v of sec.vars) lines.push(`${sec.name}\t+0x${v.offset.toString(16)}\t${v.size}\t${v.name}\tkept${v.aliasOf !== undefined ? ` (alias of ${v.aliasOf})` : ''}`);
  }
  for (const e of sel.excluded) {
    const c = e.candidate;
    const where = c.address ? `${e.sectionName ?? `#${c.address.sectionIndex}`}\t+0x${c.address.offset.toString(16)}` : '-\t-';
    const name = c.name === undefined ? '(no name)' : JSON.stringify(c.name).slice(1, -1);
    lines.push(`${where}\t${c.size ?? '-'}\t${name}\t${e.reason}: ${EXCLUSION[e.reason]}${e.detail ? ` (${e.detail})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Parses a --batch LIST file. */
export function readBatch(path: string): Job[] {
  let text: string;
  try {
    text = readRegularFileSync(path, { maxBytes: FILE_LIMITS.config }).toString('utf8');
  } catch (e) {
    throw new EncoderError('bad-batch', `cannot read: ${e instanceof SafeFileError ? e.reason : e instanceof Error ? e.message : String(e)}`, { file: path });
  }
  return parseBatch(text, path);
}

export function parseBatch(text: string, path = '<batch>'): Job[] {
  const jobs: Job[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    if (f.length < 2) throw new EncoderError('bad-batch', `line ${i + 1}: expected OBJECT OUT [BASE...]`, { file: path });
    jobs.push({ object: f[0]!, out: f[1]!, bases: f.slice(2) });
  });
  return jobs;
}
