/**
 * `latchkey config schema` (issue #12 point 6), run as a real process as an
 * operator runs it: it prints the configuration file's JSON Schema on
 * stdout, the same text as docs/latchkey.schema.json, and needs no
 * configuration file, database or environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/cli-process.js';

describe('latchkey config schema', () => {
  it('prints the JSON Schema of the configuration file, as published in docs/', async () => {
    // An empty working directory: nothing is read from it, nothing written to it.
    const cwd = mkdtempSync(join(tmpdir(), 'latchkey-config-schema-'));
    try {
      const result = await runCli(['config', 'schema'], { cwd });
      assert.equal(result.code, 0, `exit ${result.code}\nstderr: ${result.stderr}`);
      assert.equal(result.stderr, '');
      assert.ok(!hasStackTrace(result.stdout));
      const schema = JSON.parse(result.stdout) as {
        $schema?: string;
        type?: string;
        properties?: Record<string, unknown>;
        required?: string[];
      };
      assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
      assert.equal(schema.type, 'object');
      assert.ok(schema.properties && 'tenants' in schema.properties && 'listen' in schema.properties, 'properties lack tenants or listen');
      assert.deepEqual(schema.required, ['tenants']);
      assert.equal(
        result.stdout,
        readFileSync(join(REPO_ROOT, 'docs/latchkey.schema.json'), 'utf8'),
        'differs from docs/latchkey.schema.json: run `npm run docs:config`',
      );
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('has a usage line', async () => {
    const result = await runCli(['config', 'schema', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: latchkey config schema/m);
  });
});
