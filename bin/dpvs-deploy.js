#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (shipped in the npm package; in a git clone,
// `npm run build` makes it).
import { existsSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// A run keeps little (each host's facts and plan) but reads a lot (every host's probe output): with
// V8's default heap growth the garbage of 500 probes piled up to a 218 MB peak; sized for memory it
// is collected as it goes (128 MB; bench/plan-memory.ts, docs/performance.md). Set before the CLI
// loads, while the heap is still small.
setFlagsFromString('--optimize-for-size');

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    `dpvs-deploy: ${fileURLToPath(entry)} is missing: in a git checkout run \`npm run build\` first\n`,
  );
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
