/**
 * docs/management-api.md lists every endpoint the Management API serves
 * (issue #15 "Done when"): a new endpoint without its line in the docs fails
 * here, and so does a documented one that no longer exists.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { managementEndpoints, type ManagementServices } from '../../src/http/management/groups.js';

describe('docs/management-api.md', () => {
  it('lists exactly the endpoints the server serves, with their scopes', () => {
    // The endpoint builders only keep their services for later calls: anything stands in for them here.
    const anything: unknown = new Proxy(() => anything, { get: () => anything, apply: () => anything });
    const endpoints = managementEndpoints(anything as ManagementServices);
    const docs = readFileSync('docs/management-api.md', 'utf8');
    const documented = new Set([...docs.matchAll(/^\| `(GET|POST|PATCH|PUT|DELETE) (\/[^`]*)` \|/gm)].map((m) => `${m[1]} ${m[2]}`));
    const served = new Set(endpoints.map((e) => `${e.method} ${e.path}`));
    assert.deepEqual(
      [...served].filter((e) => !documented.has(e)),
      [],
      'served but not documented',
    );
    assert.deepEqual(
      [...documented].filter((e) => !served.has(e)),
      [],
      'documented but not served',
    );
    for (const endpoint of endpoints) {
      const line = docs.split('\n').find((l) => l.startsWith(`| \`${endpoint.method} ${endpoint.path}\` |`)) ?? '';
      for (const scope of endpoint.scopes) assert.ok(line.includes(`\`${scope}\``), `${endpoint.method} ${endpoint.path} names ${scope}`);
    }
  });
});
