/**
 * Operations endpoints (DESIGN.md §3): /healthz answers 200 while the
 * process lives; /readyz answers 200 while storage is reachable and 503 with
 * Retry-After once it is not; /metrics (on the operations listener) is Prometheus text exposition format
 * (version 0.0.4) with the token-request latency histogram labelled by
 * grant_type and outcome (counted exactly, with bounded label values) and the
 * password-hash queue gauges; Node's default metrics under the names Node
 * dashboards expect (process_cpu_seconds_total, nodejs_eventloop_lag_seconds)
 * and a latchkey_build_info gauge naming the version; a client hanging up mid-request is not
 * mistaken for a storage outage in the log or the metrics.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ALICE, API, WEB, acmeFixture } from '../helpers/fixtures.js';
import { get, postForm } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  helps: Set<string>;
}

/** A strict reader of the text exposition format: any malformed line fails the test. */
function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    if (help?.[1]) {
      helps.add(help[1]);
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type?.[1] && type[2]) {
      types.set(type[1], type[2]);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    assert.ok(sample?.[1] && sample[3], `not a valid exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (sample[2]) {
      const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let consumed = 0;
      for (let m = labelPattern.exec(sample[2]); m; m = labelPattern.exec(sample[2])) {
        labels[m[1] ?? ''] = m[2] ?? '';
        consumed = labelPattern.lastIndex;
      }
      assert.equal(consumed, sample[2].length, `malformed labels in ${JSON.stringify(line)}`);
    }
    // Values are Go floats: ParseFloat takes NaN and ±Inf in any letter case (prom-client writes `Nan`).
    const raw = sample[3].toLowerCase();
    const value = raw === '+inf' || raw === 'inf' ? Infinity : raw === '-inf' ? -Infinity : raw === 'nan' ? NaN : Number(raw);
    assert.ok(!Number.isNaN(value) || raw === 'nan', `bad value in ${JSON.stringify(line)}`);
    samples.push({ name: sample[1], labels, value });
  }
  return { samples, types, helps };
}

function find(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('health, readiness and metrics', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ tenants: [(await acmeFixture()).tenant] });
    token = server.at('/oauth/token');
  });
  after(() => server.close());

  async function scrape(): Promise<{ exposition: Exposition; contentType: string | null }> {
    const res = await get(`${server.operationsUrl}/metrics`);
    assert.equal(res.status, 200, res.text);
    return { exposition: parseExposition(res.text), contentType: res.headers.get('content-type') };
  }

  it('/healthz answers 200 with JSON', async () => {
    const res = await get(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.body.status, 'ok');
  });

  it('/readyz answers 200 while storage works', async () => {
    const res = await get(`${server.url}/readyz`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'ready');
  });

  it('/metrics is Prometheus text format with the token histogram by grant_type and outcome', async () => {
    const password = (password: string) =>
      postForm(token, { grant_type: 'password', username: ALICE.username, password, audience: API, ...WEB });
    const ok = await Promise.all([password(ALICE.password), password(ALICE.password), password(ALICE.password)]);
    for (const r of ok) assert.equal(r.status, 200, r.text);
    const wrong = await Promise.all([password('wrong password one'), password('wrong password two')]);
    for (const r of wrong) assert.equal(r.body.error, 'invalid_grant', r.text);
    const cc = await postForm(token, { grant_type: 'client_credentials', audience: API, ...WEB });
    assert.equal(cc.status, 200, cc.text);

    const { exposition, contentType } = await scrape();
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
    const name = 'latchkey_token_request_duration_seconds';
    assert.equal(exposition.types.get(name), 'histogram');
    assert.ok(exposition.helps.has(name));

    const count = (labels: Record<string, string>) => find(exposition, `${name}_count`, labels).reduce((sum, s) => sum + s.value, 0);
    assert.equal(count({ grant_type: 'password', outcome: 'ok' }), 3);
    assert.equal(count({ grant_type: 'password', outcome: 'invalid_grant' }), 2);
    assert.equal(count({ grant_type: 'client_credentials', outcome: 'ok' }), 1);

    // Buckets are cumulative and end with +Inf equal to the count.
    const buckets = find(exposition, `${name}_bucket`, { grant_type: 'password', outcome: 'ok', dialect: 'auth0' });
    assert.ok(buckets.length > 2, 'histogram buckets');
    const values = buckets.map((b) => b.value);
    assert.deepEqual(
      values,
      [...values].sort((a, b) => a - b),
      'buckets are cumulative',
    );
    assert.equal(buckets.find((b) => b.labels.le === '+Inf')?.value, 3);
    const sum = find(exposition, `${name}_sum`, { grant_type: 'password', outcome: 'ok' })[0];
    assert.ok(sum && sum.value > 0, 'a positive duration sum');
  });

  it('grant_type label values stay bounded: an unsupported grant is not a new label', async () => {
    const junk = `urn:made-up:${Math.random().toString(36).slice(2)}`;
    const res = await postForm(token, { grant_type: junk, ...WEB });
    assert.equal(res.body.error, 'unsupported_grant_type');
    const text = (await get(`${server.operationsUrl}/metrics`)).text;
    assert.ok(!text.includes(junk), 'the unsupported grant name is not a label value');
    const { exposition } = await scrape();
    const none = find(exposition, 'latchkey_token_request_duration_seconds_count', { outcome: 'unsupported_grant_type' });
    assert.ok(none.length > 0 && none.every((s) => s.labels.grant_type === 'none'), JSON.stringify(none));
  });

  it('exposes the password hash queue depth and in-flight gauges', async () => {
    const { exposition } = await scrape();
    for (const gauge of ['latchkey_password_hash_queue_depth', 'latchkey_password_hash_in_flight']) {
      assert.equal(exposition.types.get(gauge), 'gauge', gauge);
      const samples = find(exposition, gauge);
      assert.equal(samples.length, 1, gauge);
      // Nothing is being verified between requests: both read zero, not a stale peak.
      assert.equal(samples[0]?.value, 0, gauge);
    }
  });

  it("Node's default metrics carry the names Node dashboards query, and latchkey_build_info names the release", async () => {
    const { exposition } = await scrape();
    for (const [name, type] of [
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ] as const) {
      assert.equal(exposition.types.get(name), type, name);
      assert.equal(find(exposition, name).length, 1, name);
    }
    assert.ok(![...exposition.types.keys()].some((name) => name.startsWith('latchkey_process_')), 'no prefixed copies');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(exposition.types.get('latchkey_build_info'), 'gauge');
    assert.deepEqual(find(exposition, 'latchkey_build_info'), [
      { name: 'latchkey_build_info', labels: { version: pkg.version }, value: 1 },
    ]);
  });

  it('a client hanging up mid-body is logged and counted as a client error, not a storage outage', async () => {
    const logged = server.logs.length;
    const { port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        // Headers and part of the body reach the server, then the client hangs up.
        socket.write(
          'POST /acme/oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=',
          () => socket.destroy(),
        );
      });
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
    // The server logs the abandoned request when it notices; poll its log with a deadline.
    const deadline = Date.now() + 10_000;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = server.logs
        .slice(logged)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.route === '/:tenant/oauth/token');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(line, 'the abandoned request is logged');
    assert.notEqual(line.error, 'temporarily_unavailable', JSON.stringify(line));
    assert.ok(!['error', 'fatal'].includes(line.level as string), `not an error-level log: ${JSON.stringify(line)}`);
    const { exposition } = await scrape();
    assert.deepEqual(
      find(exposition, 'latchkey_token_request_duration_seconds_count', { outcome: 'temporarily_unavailable' }),
      [],
      'no 503 outcome recorded',
    );
  });

  it('/readyz answers 503 with Retry-After once storage is unreachable, while /healthz stays 200', async () => {
    // Destroying the storage handle is the most direct way to lose the database under a live server.
    await server.server.runtime.stores.close();
    const ready = await get(`${server.url}/readyz`);
    assert.equal(ready.status, 503, ready.text);
    assert.ok(ready.headers.get('retry-after'), 'Retry-After');
    const health = await get(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
