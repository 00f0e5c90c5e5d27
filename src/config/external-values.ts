/**
 * Values a configuration file takes from outside itself, so secrets need not
 * sit in the YAML (issue #15 point 6), applied to the parsed document before
 * the schema validates it:
 *
 * - `${VAR}` in any string value is replaced by the environment variable
 *   (Dex expands `$VAR` in its config the same way); `$${` writes a literal
 *   `${`. An unset variable stops the load, naming the key and the variable:
 *   an empty secret must never pass unnoticed.
 * - `KEY_file: path` beside a secret key reads KEY from that file, relative
 *   to the configuration file, without one trailing newline (the Docker
 *   secrets convention: /run/secrets/NAME holds the value and `echo` adds a
 *   newline). Giving both KEY and KEY_file is refused: which one wins would
 *   be a guess.
 *
 * Error texts name keys, variables and files, never a value.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatKeyPath } from './key-path.js';

type Env = Record<string, string | undefined>;

/** The keys whose value may come from a `*_file` sibling (the schema documents each sibling). */
export const FILE_SOURCED_KEYS = ['client_secret', 'secret', 'bind_password', 'database', 'redis'] as const;

const VARIABLE = /\$(\$?)\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Returns the document with `${VAR}` substituted and `*_file` keys read; `problems` collects what went wrong, by key path. */
export function applyExternalValues(raw: unknown, baseDir: string, env: Env): { value: unknown; problems: string[] } {
  const problems: string[] = [];
  const value = walk(raw, [], { baseDir, env, problems });
  return { value, problems };
}

interface WalkContext {
  baseDir: string;
  env: Env;
  problems: string[];
}

function walk(node: unknown, path: PropertyKey[], context: WalkContext): unknown {
  if (typeof node === 'string') return substitute(node, path, context);
  if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i], context));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  const entries = Object.entries(node as Record<string, unknown>);
  for (const [key, value] of entries) out[key] = walk(value, [...path, key], context);
  for (const key of FILE_SOURCED_KEYS) {
    const fileKey = `${key}_file`;
    if (!(fileKey in out)) continue;
    const filePath = out[fileKey];
    delete out[fileKey];
    const where = formatKeyPath([...path, fileKey]);
    if (key in out) {
      context.problems.push(`${where}: give ${key} or ${fileKey}, not both`);
      continue;
    }
    if (typeof filePath !== 'string' || filePath === '') {
      context.problems.push(`${where}: expected the path of a file holding the ${key}`);
      continue;
    }
    const file = resolve(context.baseDir, filePath);
    try {
      out[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      context.problems.push(`${where}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  return out;
}

function substitute(text: string, path: PropertyKey[], context: WalkContext): string {
  if (!text.includes('${')) return text;
  return text.replace(VARIABLE, (whole, escaped: string, name: string) => {
    if (escaped === '$') return whole.slice(1);
    const where = formatKeyPath(path);
    if (!VARIABLE_NAME.test(name)) {
      context.problems.push(`${where}: "\${${name.slice(0, 40)}}" is not an environment variable name (write $\${ for a literal \${)`);
      return whole;
    }
    const value = context.env[name];
    if (value === undefined) {
      context.problems.push(`${where}: environment variable ${name} is not set`);
      return whole;
    }
    return value;
  });
}
