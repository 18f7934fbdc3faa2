/**
 * Writes docs/preflight.md from the check registry.
 * Run: npm run build && node dist/scripts/gen-preflight-docs.js
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPreflightDocs } from '../src/preflight/docs.js';

// dist/scripts/ or scripts/ → repository root
const here = dirname(fileURLToPath(import.meta.url));
const root = here.endsWith(join('dist', 'scripts')) ? join(here, '..', '..') : join(here, '..');
const out = join(root, 'docs', 'preflight.md');
writeFileSync(out, renderPreflightDocs());
console.log(`wrote ${out}`);
