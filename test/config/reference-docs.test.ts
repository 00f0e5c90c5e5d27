/**
 * The configuration's documentation is generated from its schema (issue #12
 * point 6): docs/configuration.md's reference table and
 * docs/latchkey.schema.json must be exactly what src/config/schema.ts
 * produces, every key must say what it does, and the JSON Schema must be
 * one that editors and validators accept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { demoConfig } from '../../src/config/demo.js';
import {
  BEGIN_MARKER,
  configJsonSchema,
  configJsonSchemaText,
  END_MARKER,
  referenceRows,
  renderReferenceTable,
  withGeneratedReference,
  type JsonSchema,
} from '../../src/config/reference.js';
import { configSchema } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/cli-process.js';

const MARKDOWN_PATH = join(REPO_ROOT, 'docs/configuration.md');
const SCHEMA_PATH = join(REPO_ROOT, 'docs/latchkey.schema.json');
const STALE = 'is out of date with src/config/schema.ts: run `npm run docs:config` and commit the result';

/** Every key's schema with its path, depth first (list items as `key[]`). */
function keys(node: JsonSchema, prefix = ''): Array<{ path: string; schema: JsonSchema }> {
  const out: Array<{ path: string; schema: JsonSchema }> = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    assert.ok(typeof child === 'object', `${prefix}${key}: a boolean schema`);
    const path = `${prefix}${key}`;
    out.push({ path, schema: child });
    out.push(...keys(child, `${path}.`));
    if (child.items && typeof child.items === 'object' && !Array.isArray(child.items)) out.push(...keys(child.items, `${path}[].`));
  }
  return out;
}

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

describe('configuration reference docs', () => {
  it('docs/configuration.md holds the generated reference table', () => {
    const markdown = readFileSync(MARKDOWN_PATH, 'utf8');
    assert.ok(
      markdown.includes(BEGIN_MARKER) && markdown.includes(END_MARKER),
      `docs/configuration.md lost its markers ${BEGIN_MARKER} … ${END_MARKER}`,
    );
    const expected = withGeneratedReference(markdown, renderReferenceTable(configJsonSchema()));
    assert.ok(markdown === expected, `docs/configuration.md's generated table ${STALE}`);
  });

  it('docs/latchkey.schema.json is the schema `latchkey config schema` prints', () => {
    assert.ok(readFileSync(SCHEMA_PATH, 'utf8') === configJsonSchemaText(), `docs/latchkey.schema.json ${STALE}`);
  });

  it('every key has a description, and the table a row for each', () => {
    const schema = configJsonSchema();
    const all = keys(schema);
    assert.ok(all.length > 100, `only ${all.length} keys found: the walk is broken`);
    const missing = all.filter((k) => (k.schema.description ?? '').trim().length < 10).map((k) => k.path);
    assert.deepEqual(missing, [], `keys without a description (add .describe() in src/config/schema.ts): ${missing.join(', ')}`);
    assert.deepEqual(
      referenceRows(schema).map((r) => r.path),
      all.map((k) => k.path),
    );
  });

  it('shows defaults at depth, with types and required keys', () => {
    const rows = new Map(referenceRows(configJsonSchema()).map((r) => [r.path, r]));
    assert.equal(rows.get('tenants[].connections[].password_policy.min_length')?.default, '`8`');
    assert.equal(rows.get('tenants[].attack_protection.brute_force.block_seconds')?.default, '`2592000` (30 days)');
    assert.equal(rows.get('tenants[].attack_protection')?.default, "each key's default");
    assert.equal(rows.get('tenants[].applications[].grant_types')?.default, '`["password","refresh_token"]`');
    assert.equal(rows.get('tenants[].connections[].pool_size')?.default, '`8`');
    assert.equal(rows.get('public_url')?.default, '—');
    assert.equal(rows.get('tenants[].name')?.type, 'string, required');
    assert.equal(rows.get('tenants[].mfa')?.type, '`never`, `optional` or `always`');
    assert.equal(rows.get('listen.port')?.type, 'integer 0–65535');
  });

  it('is valid JSON Schema 2020-12, every key typed (nothing unrepresentable left as any)', () => {
    const schema = configJsonSchema();
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.ok(schema.$id && schema.title);
    // strict: unknown keywords or ill-formed patterns fail compilation. Formats (uri, email) are annotations here, as in editors.
    const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
    assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors));
    ajv.compile(schema);
    const untyped = keys(schema).filter((k) => k.schema.type === undefined && k.schema.enum === undefined && k.schema.anyOf === undefined);
    assert.deepEqual(
      untyped.map((k) => k.path),
      [],
    );
  });

  it('accepts the files the project ships and refuses what the schema refuses', () => {
    const validate = new Ajv2020({ strict: true, allErrors: true, validateFormats: false }).compile(configJsonSchema());
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-schema-'));
    try {
      const files: Array<[string, unknown]> = [
        ['examples/cluster/latchkey.yaml', parse(readFileSync(join(REPO_ROOT, 'examples/cluster/latchkey.yaml'), 'utf8'))],
        ['the demo tenant', demoConfig(dir, 3000).config],
        ...yamlBlocks(readFileSync(MARKDOWN_PATH, 'utf8'))
          .map((text) => parse(text) as unknown)
          .filter((doc): doc is { tenants: unknown } => typeof doc === 'object' && doc !== null && 'tenants' in doc && 'public_url' in doc)
          .map((doc, i): [string, unknown] => [`docs/configuration.md example ${i + 1}`, doc]),
      ];
      assert.ok(files.length >= 3, 'the small example of docs/configuration.md is gone');
      for (const [name, file] of files) {
        assert.ok(validate(file), `${name}: ${JSON.stringify(validate.errors)}`);
        assert.ok(configSchema.safeParse(file).success, `${name} does not parse`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const bad of [
      {},
      { tenants: [{ name: 'a', typo: 1 }] },
      { tenants: [{ name: 'a', mfa: 'sometimes' }] },
      { listen: { port: 70_000 }, tenants: [{ name: 'a' }] },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
      assert.equal(configSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});
