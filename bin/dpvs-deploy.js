#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (shipped in the npm package; in a git clone,
// `npm run build` makes it).
import { existsSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    `dpvs-deploy: ${fileURLToPath(entry)} is missing: in a git checkout run \`npm run build\` first\n`,
  );
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
