/**
 * The documentation an operator receives stands on its own (issue #15 point
 * 7): README.md, docs/ and examples/ cite no file outside the repository
 * (the project's design notes and seed texts are not shipped), every
 * relative Markdown link resolves inside it, and the README names the real
 * command: package.json's `bin` and how to run it from a checkout (`npx latchkey`).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const DOCUMENTS = [join(ROOT, 'README.md'), ...filesUnder(join(ROOT, 'docs')), ...filesUnder(join(ROOT, 'examples'))].filter((path) =>
  /\.(md|json|ya?ml|mjs|js|ts|html|txt)$/.test(path),
);

describe('documentation is self-contained', () => {
  it('no document cites a file outside the repository', () => {
    const outside = /\.\.\/shared|DESIGN\.md|STYLE\.md|seeds\/|\bseed \d{3}\b/;
    const found = DOCUMENTS.flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, i) => (outside.test(line) ? [`${relative(ROOT, path)}:${i + 1}: ${line.trim().slice(0, 120)}`] : [])),
    );
    assert.deepEqual(found, []);
  });

  it('every relative Markdown link resolves inside the repository', () => {
    const broken: string[] = [];
    for (const path of DOCUMENTS.filter((p) => p.endsWith('.md'))) {
      for (const match of readFileSync(path, 'utf8').matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/i.test(target)) continue;
        const absolute = resolve(dirname(path), target);
        if (!absolute.startsWith(ROOT) || !existsSync(absolute)) broken.push(`${relative(ROOT, path)}: ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it("the README names the real command: package.json's bin, and npx latchkey from a checkout", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const [[name, target] = ['', '']] = Object.entries(pkg.bin);
    assert.equal(name, 'latchkey');
    assert.ok(readme.includes(target.replace(/^\.\//, '')), `the README names ${target}`);
    assert.match(readme, /npx latchkey/);
    for (const bin of readme.matchAll(/bin: (\S+)/g)) assert.equal(bin[1], target, 'no other path is given as the bin');
  });
});
