import { readFileSync } from 'node:fs';

/** package.json's version: two folders up from src/cli/ and dist/cli/ alike (the published package holds package.json). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
