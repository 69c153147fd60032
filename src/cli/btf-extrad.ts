#!/usr/bin/env node
// Entry point of the daemon: builds the real I/O edges and hands them to the core.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const usage = `Usage: btf-extrad [--root DIR] [--config FILE] [--demo]

Keeps every loaded kernel module's -btf-extra companion loaded and publishes the merged BTF view.
  --root DIR      treat DIR as / for every host path (tests, demo)
  --config FILE   configuration file (default /etc/btf-extra/config.yaml)
  --demo          run on a demo root built from the bundled fixtures
`;

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(usage); return 0; }
  process.stderr.write('btf-extrad: not implemented yet\n');
  return 1;
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
