/**
 * The bench's CPU-profile summary (bench/lib/profile.ts) on a small
 * hand-made profile: categories, the window cut, self against total.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { categoryOfUrl, renderProfileSummary, summariseProfile, type CpuProfile, type CpuProfileNode } from '../../bench/lib/profile.js';

const APP = 'file:///app/dist/oauth/token-endpoint.js';
const PACKAGE = 'file:///app/node_modules/@scope/pkg/lib/sign.js';

function node(id: number, functionName: string, url: string, lineNumber: number, children: number[] = []): CpuProfileNode {
  return { id, callFrame: { functionName, url, lineNumber, columnNumber: 0, scriptId: '0' }, children };
}

/**
 * (root) ─┬ (idle)
 *         ├ (garbage collector)
 *         ├ handle (app) ─┬ sign (@scope/pkg) ── run (native)
 *         │               └ recurse (node:) ── recurse (the same function)
 *         └ (program)
 * Ten samples 1 ms apart, at 2000 … 11000 µs; the profiler stopped at 11500.
 */
const PROFILE: CpuProfile = {
  startTime: 1000,
  endTime: 11_500,
  nodes: [
    node(1, '(root)', '', -1, [2, 3, 4, 9]),
    node(2, '(idle)', '', -1),
    node(3, '(garbage collector)', '', -1),
    node(4, 'handle', APP, 9, [5, 7]),
    node(5, 'sign', PACKAGE, 0, [6]),
    node(6, 'run', '', -1),
    node(7, 'recurse', 'node:internal/x', 4, [8]),
    node(8, 'recurse', 'node:internal/x', 4),
    node(9, '(program)', '', -1),
  ],
  samples: [2, 6, 6, 5, 8, 3, 4, 9, 2, 2],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('CPU profile summary', () => {
  it('groups self samples into V8 states, native code by its caller, node internals, packages and app files', () => {
    const summary = summariseProfile(PROFILE, { appRoot: '/app' });
    assert.equal(summary.samples, 10);
    assert.equal(summary.busyPercent, 70);
    assert.deepEqual(
      summary.categories.map((row) => [row.kind, row.name, row.samples, row.percent]),
      [
        ['vm', '(idle)', 3, 30],
        ['native', 'from @scope/pkg', 2, 20],
        // Ties by name.
        ['vm', '(garbage collector)', 1, 10],
        ['vm', '(program)', 1, 10],
        ['package', '@scope/pkg', 1, 10],
        ['app', 'dist/oauth/token-endpoint.js', 1, 10],
        ['node', 'node internals', 1, 10],
      ],
    );
  });

  it('self counts the leaf; total counts every function on the stack once per sample, recursion or not', () => {
    const summary = summariseProfile(PROFILE, { appRoot: '/app' });
    const row = (name: string) => summary.topTotal.find((r) => r.name === name);
    assert.deepEqual(
      [row('handle')?.selfSamples, row('handle')?.totalSamples, row('handle')?.totalPercent, row('handle')?.location],
      [1, 5, 50, 'dist/oauth/token-endpoint.js:10'],
    );
    assert.deepEqual([row('sign')?.selfSamples, row('sign')?.totalSamples, row('sign')?.location], [1, 3, '@scope/pkg/lib/sign.js:1']);
    assert.deepEqual([row('recurse')?.selfSamples, row('recurse')?.totalSamples, row('recurse')?.location], [1, 1, 'node:internal/x:5']);
    assert.equal(
      summary.topTotal.some((r) => r.name === '(root)'),
      false,
    );
    assert.deepEqual(
      summary.topSelf.slice(0, 2).map((r) => [r.name, r.location, r.category, r.selfSamples]),
      [
        ['(idle)', '(V8)', '(idle)', 3],
        ['run', '(native) ← @scope/pkg/lib/sign.js:1', 'from @scope/pkg', 2],
      ],
    );
  });

  it('native functions of one name are told apart by their nearest scripted caller', () => {
    const profile: CpuProfile = {
      startTime: 0,
      endTime: 10,
      nodes: [
        node(1, '(root)', '', -1, [2, 4]),
        node(2, 'executeQuery', 'file:///x/node_modules/kysely/driver.js', 5, [3]),
        node(3, 'run', '', -1),
        node(4, 'rsaSignVerify', 'node:internal/crypto/rsa', 10, [5]),
        node(5, 'run', '', -1),
      ],
      samples: [3, 3, 5],
      timeDeltas: [1, 1, 1],
    };
    assert.deepEqual(
      summariseProfile(profile).topSelf.map((r) => [r.name, r.location, r.category, r.selfSamples]),
      [
        ['run', '(native) ← kysely/driver.js:6', 'from kysely', 2],
        ['run', '(native) ← node:internal/crypto/rsa:11', 'from node internals', 1],
      ],
    );
  });

  it('cuts to the window: only samples taken in [start, end) count', () => {
    const summary = summariseProfile(PROFILE, { window: { startUs: 2500, endUs: 9000 }, appRoot: '/app' });
    // Samples at 3000 … 8000: run, run, sign, recurse, (garbage collector), handle; the one at 9000 is out.
    assert.equal(summary.samples, 6);
    assert.equal(summary.busyPercent, 100);
    assert.equal(summary.meanIntervalUs, 6500 / 6);
    assert.deepEqual(
      summary.categories.map((row) => [row.name, row.samples]),
      [
        ['from @scope/pkg', 2],
        ['(garbage collector)', 1],
        ['@scope/pkg', 1],
        ['dist/oauth/token-endpoint.js', 1],
        ['node internals', 1],
      ],
    );
    assert.equal(summary.topTotal.find((r) => r.name === 'handle')?.totalSamples, 5);
  });

  it('a window outside the profile has no samples, rather than failing', () => {
    const summary = summariseProfile(PROFILE, { window: { startUs: 20_000, endUs: 30_000 } });
    assert.deepEqual([summary.samples, summary.busyPercent, summary.categories.length, summary.topSelf.length], [0, 0, 0, 0]);
  });

  it('limits the top lists', () => {
    const summary = summariseProfile(PROFILE, { topSelf: 2, topTotal: 3 });
    assert.deepEqual([summary.topSelf.length, summary.topTotal.length], [2, 3]);
  });

  it('renders Markdown tables', () => {
    const text = renderProfileSummary(summariseProfile(PROFILE, { appRoot: '/app' }));
    assert.match(text, /^10 samples in 11 ms \(one per 1\.05 ms\); busy \(not idle\) in 70\.0% of them\./);
    assert.match(text, /\| native \| from @scope\/pkg \| 2 \| 20\.0% \|/);
    assert.match(
      text,
      /\| 1 \| handle \| dist\/oauth\/token-endpoint\.js:10 \| dist\/oauth\/token-endpoint\.js \| 1 \| 10\.0% \| 5 \| 50\.0% \|/,
    );
  });

  it('rejects JSON that is not a sampled profile', () => {
    assert.throws(() => summariseProfile({ nodes: [], startTime: 0, endTime: 1 }), { name: 'ProfileFormatError' });
  });
});

describe('category of a script URL', () => {
  const category = (url: string, appRoot?: string) => {
    const { kind, name } = categoryOfUrl(url, appRoot);
    return `${kind} ${name}`;
  };

  it('node: URLs are node internals', () => {
    assert.equal(category('node:internal/crypto/util'), 'node node internals');
  });

  it('a package is named after its last node_modules/, scope kept, for file URLs and CommonJS paths alike', () => {
    assert.equal(category('file:///work/main/node_modules/fastify/lib/reply.js'), 'package fastify');
    assert.equal(category('/work/main/node_modules/@node-rs/argon2/index.js'), 'package @node-rs/argon2');
    assert.equal(category('file:///w/node_modules/a/node_modules/@s/b/x.js'), 'package @s/b');
  });

  it("the app's files are named relative to its root, else from dist/, src/ or bench/", () => {
    assert.equal(category('file:///work/wt/dist/app.js', '/work/wt'), 'app dist/app.js');
    assert.equal(category('file:///work/wt/scripts/x.js', '/work/wt/'), 'app scripts/x.js');
    assert.equal(category('file:///elsewhere/src/tokens/token-service.ts'), 'app src/tokens/token-service.ts');
    assert.equal(category('file:///srv/node_modules/x/dist/index.js', '/srv'), 'package x');
  });

  it('anything else keeps its URL', () => {
    assert.equal(category('evalmachine.<anonymous>'), 'other evalmachine.<anonymous>');
  });
});
