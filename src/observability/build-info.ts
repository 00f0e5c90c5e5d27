/**
 * The release this process runs, from package.json: the `latchkey_build_info`
 * gauge's label. The file sits two folders up from both src/observability/
 * and dist/observability/, so one relative URL serves tests and the build.
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    // An install without package.json next to dist/ still serves; the gauge then says so.
    return 'unknown';
  }
}

export const LATCHKEY_VERSION = readVersion();
