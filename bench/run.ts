/**
 * `npm run bench`: runs every benchmark module in turn (each exports `run()` and prints its own table).
 * Benchmarks that need ../shared say so and skip; pass names to run a subset: `npm run bench -- btf merge`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const SUITES = ['dwarf-vars', 'btf', 'merge', 'encode', 'daemon'] as const;

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const here = dirname(fileURLToPath(import.meta.url));
  for (const name of SUITES) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const file = join(here, `${name}.js`);
    if (!existsSync(file)) { process.stdout.write(`\n## ${name}: not built\n`); continue; }
    process.stdout.write(`\n## ${name}\n`);
    const mod = (await import(file)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') throw new Error(`bench/${name}: no run() export`);
    await mod.run();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
