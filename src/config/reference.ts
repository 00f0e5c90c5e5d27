/**
 * The configuration file's documentation, derived from its schema
 * (src/config/schema.ts) so it cannot drift from what `serve` accepts:
 *
 * - `configJsonSchema()`: the file's JSON Schema (zod's own conversion, input
 *   side: defaults are `default`s and keys with one are optional), printed by
 *   `latchkey config schema` and published as docs/latchkey.schema.json for
 *   editors;
 * - `renderReferenceTable()`: the reference table of docs/configuration.md,
 *   one row per key path, built from that JSON Schema's `description`,
 *   `default` and types.
 *
 * Pure: `scripts/config-docs.ts` writes the files, and
 * test/config/reference-docs.test.ts fails when they differ from these.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export type JsonSchema = z.core.JSONSchema.JSONSchema;

/** A stable name, not a URL: the schema is served by no host, and editors find it by path (docs/configuration.md). */
export const CONFIG_SCHEMA_ID = 'urn:latchkey:configuration';

export function configJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(configSchema, {
    target: 'draft-2020-12',
    // Input side: what the file may say (a key with a default is optional), not what the server holds after parsing.
    io: 'input',
    // Refinements and transforms have no JSON Schema form: left out (as `{}` at worst) rather than thrown on.
    unrepresentable: 'any',
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'Latchkey configuration file',
    description:
      "The YAML file of `latchkey serve --config FILE`; docs/configuration.md describes each key. Generated from Latchkey's configuration schema (src/config/schema.ts).",
    ...rest,
  };
}

/** docs/latchkey.schema.json's exact text. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export interface ReferenceRow {
  /** `tenants[].connections[].password_policy.min_length` */
  path: string;
  type: string;
  /** Markdown; `—` when the key has no default. */
  default: string;
  description: string;
}

/** One row per key, depth first in the schema's order; a list of objects is followed by its items' keys (`key[].child`). */
export function referenceRows(schema: JsonSchema): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (node: JsonSchema, prefix: string): void => {
    const required = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (typeof child === 'boolean') continue;
      const path = prefix === '' ? key : `${prefix}.${key}`;
      rows.push({
        path,
        type: typeText(child, required.has(key)),
        default: defaultText(key, child),
        description: child.description ?? '',
      });
      const items = itemSchema(child);
      if (isObject(child)) walk(child, path);
      else if (items && isObject(items)) walk(items, `${path}[]`);
    }
  };
  walk(schema, '');
  return rows;
}

/** The generated part of docs/configuration.md: a Markdown table. */
export function renderReferenceTable(schema: JsonSchema): string {
  const lines = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
  for (const row of referenceRows(schema)) {
    lines.push(`| ${[`\`${row.path}\``, row.type, row.default, row.description].map(cell).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

export const BEGIN_MARKER =
  '<!-- BEGIN GENERATED: config reference (npm run docs:config; edit the .describe() texts in src/config/schema.ts) -->';
export const END_MARKER = '<!-- END GENERATED -->';

/** `markdown` with the text between the markers replaced by `generated`; the prose around it is kept as written. */
export function withGeneratedReference(markdown: string, generated: string): string {
  const begin = markdown.indexOf(BEGIN_MARKER);
  const end = markdown.indexOf(END_MARKER);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md needs the markers ${BEGIN_MARKER} and ${END_MARKER}, in that order`);
  return `${markdown.slice(0, begin + BEGIN_MARKER.length)}\n${generated}${markdown.slice(end)}`;
}

function isObject(node: JsonSchema): boolean {
  return node.type === 'object' && node.properties !== undefined;
}

function itemSchema(node: JsonSchema): JsonSchema | undefined {
  return node.type === 'array' && node.items !== undefined && typeof node.items === 'object' && !Array.isArray(node.items)
    ? node.items
    : undefined;
}

/** Largest integer JSON Schema gets for `.int()` without a maximum: no real bound, so not shown. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

function typeText(node: JsonSchema, required: boolean): string {
  const base = baseType(node);
  return required ? `${base}, required` : base;
}

function baseType(node: JsonSchema): string {
  if (node.enum) return oneOf(node.enum.map((v) => `\`${String(v)}\``));
  if (node.anyOf) return oneOf(node.anyOf.map(baseType));
  const items = itemSchema(node);
  if (items) {
    const of = isObject(items) ? 'list of objects' : items.enum ? `list, each ${baseType(items)}` : `list of ${baseType(items)}s`;
    return node.minItems !== undefined && node.minItems > 0 ? `${of} (at least ${node.minItems})` : of;
  }
  switch (node.type) {
    case 'integer':
    case 'number': {
      const min = node.minimum;
      const max = node.maximum !== undefined && node.maximum < UNBOUNDED ? node.maximum : undefined;
      if (min !== undefined && max !== undefined) return `${node.type} ${min}–${max}`;
      if (min !== undefined) return `${node.type} ≥ ${min}`;
      return max === undefined ? node.type : `${node.type} ≤ ${max}`;
    }
    case 'string':
      if (node.format === 'uri') return 'URL';
      if (node.format === 'email') return 'email address';
      return 'string';
    case 'object':
      return 'object';
    case undefined:
      return 'any';
    default:
      return Array.isArray(node.type) ? node.type.join(' or ') : node.type;
  }
}

/** `a`, `b` or `c` */
function oneOf(choices: string[]): string {
  return choices.length < 2 ? (choices[0] ?? '') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}

function defaultText(key: string, node: JsonSchema): string {
  if (!('default' in node)) return '—';
  const value = node.default;
  // `{}` on an object is zod's prefault: absent, the object is parsed from nothing, so each of its keys takes its own default.
  if (isObject(node) && isEmptyObject(value)) return "each key's default";
  const text = `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
  const duration = typeof value === 'number' && /(seconds|lifetime)$/.test(key) ? readableSeconds(value) : undefined;
  return duration === undefined ? text : `${text} (${duration})`;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** 2592000 → `30 days`: only for a whole number of minutes, hours or days, where it helps. */
function readableSeconds(value: number): string | undefined {
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (value >= size && value % size === 0) {
      const n = value / size;
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return undefined;
}

/** A table cell: one line, pipes escaped (GFM splits cells on them even inside code spans). */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}
