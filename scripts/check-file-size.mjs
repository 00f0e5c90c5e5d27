#!/usr/bin/env node
// Part of `npm run lint` (issue #12): no source file over 450 lines, so no
// module grows back into a god object. The config schema is the exception:
// it is one declarative tree, the single source of the file's keys and docs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINES = 450;
const EXEMPT = new Set(['src/config/schema.ts']);

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|cts|mts)$/.test(entry.name) ? [path] : [];
  });
}

const tooLong = sources('src')
  .filter((path) => !EXEMPT.has(path))
  .map((path) => ({ path, lines: readFileSync(path, 'utf8').split('\n').length - 1 }))
  .filter((file) => file.lines > MAX_LINES);

for (const file of tooLong) {
  console.error(
    `${file.path}: ${file.lines} lines; the limit is ${MAX_LINES}. Split it by concern (docs/architecture.md says where parts go).`,
  );
}
if (tooLong.length > 0) process.exit(1);
console.log(`file size: every src file is at most ${MAX_LINES} lines (config/schema.ts aside)`);
