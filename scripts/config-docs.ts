#!/usr/bin/env node
/**
 * `npm run docs:config`: writes what src/config/schema.ts documents into
 * docs/latchkey.schema.json (the JSON Schema, for editors) and the
 * generated reference table of docs/configuration.md (between its markers;
 * the prose around it is left alone). Run it after changing the schema:
 * test/config/reference-docs.test.ts fails until the files match.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema, configJsonSchemaText, renderReferenceTable, withGeneratedReference } from '../src/config/reference.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const markdownPath = `${root}docs/configuration.md`;
const schemaPath = `${root}docs/latchkey.schema.json`;

const markdown = readFileSync(markdownPath, 'utf8');
const updated = withGeneratedReference(markdown, renderReferenceTable(configJsonSchema()));
const schemaText = configJsonSchemaText();

let previousSchema = '';
try {
  previousSchema = readFileSync(schemaPath, 'utf8');
} catch {
  // First run: the file does not exist yet.
}
for (const [path, before, after] of [
  [markdownPath, markdown, updated],
  [schemaPath, previousSchema, schemaText],
] as const) {
  if (before === after) {
    console.log(`unchanged ${path.slice(root.length)}`);
  } else {
    writeFileSync(path, after);
    console.log(`wrote ${path.slice(root.length)}`);
  }
}
