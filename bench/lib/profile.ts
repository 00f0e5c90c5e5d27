/**
 * What a V8 CPU profile of one thread says about a time window: self time
 * by category (the VM's own states, Node's internals, each npm package, each
 * file of the app), the functions with the most self and total time. Pure:
 * the same profile and window always give the same summary, so a summary can
 * be recomputed from a saved .cpuprofile and diffed before/after a change.
 *
 * The input is the format of the inspector's Profiler.stop and of
 * `node --cpu-prof` files (the same JSON): a call tree (`nodes`) and, per
 * sample, the tree node it hit (`samples`) and the µs since the previous
 * sample (`timeDeltas`, the first one since `startTime`). Times are on V8's
 * monotonic clock, which on Linux is CLOCK_MONOTONIC: the clock of
 * `process.hrtime.bigint()` in any process, so a window measured by the
 * bench cuts a server's profile directly.
 *
 * Shares are of samples, not of time between samples (which DevTools
 * shows): the sampler signals the thread every interval, but a thread
 * waiting for a core takes one sample when it gets one, so counting keeps a
 * long preemption from weighing like that much work. Neither is CPU time:
 * a frame where the thread is often preempted (one that wakes a pool
 * thread, on a machine with fewer cores than busy threads) collects samples
 * beyond its CPU cost. thread-cpu.ts gives the threads' real CPU.
 */

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based, as V8 reports it. */
  readonly lineNumber: number;
  readonly columnNumber: number;
  readonly scriptId?: string;
}

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  /** µs, V8's monotonic clock. */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** [startUs, endUs) on the profile's clock. */
export interface TimeWindow {
  readonly startUs: number;
  readonly endUs: number;
}

/**
 * - `vm`: V8's own states, `(garbage collector)`, `(program)` (V8 or native
 *   code outside JS, e.g. the event loop's I/O) and `(idle)`.
 * - `native`: functions without a script (bindings, runtime functions),
 *   named after the category of the nearest caller that has one, so
 *   `JSON.parse` called by fastify counts as "native, from fastify".
 * - `node`: `node:` URLs. `package`: a file under node_modules/<package>/.
 * - `app`: the app's own files (under `appRoot`, or dist/, src/, bench/).
 */
export type CategoryKind = 'vm' | 'native' | 'node' | 'package' | 'app' | 'other';

export interface CategoryRow {
  readonly kind: CategoryKind;
  readonly name: string;
  /** Samples whose leaf frame is in the category. */
  readonly samples: number;
  /** Of the window's samples. */
  readonly percent: number;
}

export interface FunctionRow {
  readonly name: string;
  /** `file:line` (1-based), shortened: `fastify/lib/reply.js:12`, `dist/app.js:3`, `node:net:410`. */
  readonly location: string;
  readonly category: string;
  /** Samples with the function as the leaf. */
  readonly selfSamples: number;
  readonly selfPercent: number;
  /** Samples with the function anywhere on the stack (once per sample, recursion or not). */
  readonly totalSamples: number;
  readonly totalPercent: number;
}

export interface ProfileSummary {
  readonly window: TimeWindow;
  /** Samples taken inside the window. */
  readonly samples: number;
  /** Window length ÷ samples: above the sampling interval when the thread or the sampler waited for a core. */
  readonly meanIntervalUs: number;
  /** Share of the samples not `(idle)`: how busy the thread was. */
  readonly busyPercent: number;
  /** Descending by self time. */
  readonly categories: readonly CategoryRow[];
  readonly topSelf: readonly FunctionRow[];
  readonly topTotal: readonly FunctionRow[];
}

export interface SummaryOptions {
  /** Cut to this window; default: the whole profile. */
  readonly window?: TimeWindow;
  /** Absolute path of the app's checkout: its files (outside node_modules) are `app`, named relative to it. */
  readonly appRoot?: string;
  readonly topSelf?: number;
  readonly topTotal?: number;
}

const DEFAULT_TOP_SELF = 30;
const DEFAULT_TOP_TOTAL = 15;
const VM_STATES = new Set(['(garbage collector)', '(program)', '(idle)']);
const ROOT = '(root)';

/** Thrown for JSON that is not a sampled CPU profile. */
export class ProfileFormatError extends Error {
  override readonly name = 'ProfileFormatError';
}

export function summariseProfile(profile: CpuProfile, options: SummaryOptions = {}): ProfileSummary {
  const window = options.window ?? { startUs: profile.startTime, endUs: profile.endTime };
  const tree = indexTree(profile);
  const selfByNode = samplesInWindow(profile, window);
  const samples = sum(selfByNode.values());
  const percentOf = (count: number): number => (samples > 0 ? (100 * count) / samples : 0);
  const identify = identifier(tree, options.appRoot);

  const categories = new Map<string, { kind: CategoryKind; name: string; count: number }>();
  const functions = new Map<string, { identity: NodeIdentity; self: number; total: number }>();
  const rowOf = (identity: NodeIdentity) => {
    let row = functions.get(identity.key);
    if (row === undefined) {
      row = { identity, self: 0, total: 0 };
      functions.set(identity.key, row);
    }
    return row;
  };
  for (const [id, count] of selfByNode) {
    const identity = identify(id);
    const categoryKey = `${identity.kind}\u0000${identity.category}`;
    const entry = categories.get(categoryKey) ?? { kind: identity.kind, name: identity.category, count: 0 };
    entry.count += count;
    categories.set(categoryKey, entry);
    rowOf(identity).self += count;
    // Total: once per distinct function on the path, so recursion does not count twice.
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = tree.parent.get(node)) {
      if (tree.frame(node).functionName === ROOT && tree.parent.get(node) === undefined) break;
      const onPath = identify(node);
      if (seen.has(onPath.key)) continue;
      seen.add(onPath.key);
      rowOf(onPath).total += count;
    }
  }

  const functionRows = [...functions.values()].map(
    ({ identity, self, total }): FunctionRow => ({
      name: identity.name,
      location: identity.location,
      category: identity.category,
      selfSamples: self,
      selfPercent: percentOf(self),
      totalSamples: total,
      totalPercent: percentOf(total),
    }),
  );
  const idle = sum([...categories.values()].filter((c) => c.kind === 'vm' && c.name === '(idle)').map((c) => c.count));
  return {
    window,
    samples,
    meanIntervalUs: samples > 0 ? (window.endUs - window.startUs) / samples : 0,
    busyPercent: samples > 0 ? 100 - percentOf(idle) : 0,
    categories: [...categories.values()]
      .map(({ kind, name, count }) => ({ kind, name, samples: count, percent: percentOf(count) }))
      .sort((a, b) => b.samples - a.samples || a.name.localeCompare(b.name)),
    topSelf: top(
      functionRows.filter((row) => row.selfSamples > 0),
      (row) => row.selfSamples,
      options.topSelf ?? DEFAULT_TOP_SELF,
    ),
    topTotal: top(functionRows, (row) => row.totalSamples, options.topTotal ?? DEFAULT_TOP_TOTAL),
  };
}

interface Tree {
  readonly parent: ReadonlyMap<number, number>;
  frame(id: number): CallFrame;
}

function indexTree(profile: CpuProfile): Tree {
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw new ProfileFormatError('not a sampled CPU profile: nodes, samples and timeDeltas are required');
  }
  const frames = new Map<number, CallFrame>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    frames.set(node.id, node.callFrame);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  return {
    parent,
    frame: (id) => {
      const frame = frames.get(id);
      if (frame === undefined) throw new ProfileFormatError(`sample or child refers to unknown node ${id}`);
      return frame;
    },
  };
}

/** Samples per tree node taken inside the window: sample i is taken at startTime + timeDeltas[0..i]. */
function samplesInWindow(profile: CpuProfile, window: TimeWindow): Map<number, number> {
  const ids = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const counts = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < ids.length; i++) {
    at += deltas[i] ?? 0;
    if (at < window.startUs || at >= window.endUs) continue;
    const id = ids[i]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A tree node as a function: what merges it with others, and how it is shown. */
interface NodeIdentity {
  readonly key: string;
  readonly name: string;
  readonly location: string;
  readonly kind: CategoryKind;
  readonly category: string;
}

/**
 * Scripted functions are one function wherever they are called from. A
 * native one (no script) is told apart by its nearest scripted caller:
 * `run` from better-sqlite3's statement under kysely and `run` of a
 * WebCrypto job under node:internal/crypto are different costs.
 */
function identifier(tree: Tree, appRoot: string | undefined): (id: number) => NodeIdentity {
  const known = new Map<number, NodeIdentity>();
  return (id) => {
    const cached = known.get(id);
    if (cached !== undefined) return cached;
    const frame = tree.frame(id);
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    let identity: NodeIdentity;
    if (frame.url !== '') {
      const category = categoryOfUrl(frame.url, appRoot);
      identity = { key: functionKey(frame), name, location: locationOf(frame, appRoot), kind: category.kind, category: category.name };
    } else if (VM_STATES.has(frame.functionName)) {
      identity = { key: frame.functionName, name, location: '(V8)', kind: 'vm', category: frame.functionName };
    } else {
      const caller = scriptedCaller(id, tree);
      identity =
        caller === undefined
          ? { key: `${name}\u0000native`, name, location: '(native)', kind: 'native', category: 'no caller with a script' }
          : {
              key: `${name}\u0000native\u0000${functionKey(caller)}`,
              name,
              location: `(native) ← ${locationOf(caller, appRoot)}`,
              kind: 'native',
              category: `from ${categoryOfUrl(caller.url, appRoot).name}`,
            };
    }
    known.set(id, identity);
    return identity;
  };
}

function scriptedCaller(id: number, tree: Tree): CallFrame | undefined {
  for (let node = tree.parent.get(id); node !== undefined; node = tree.parent.get(node)) {
    const frame = tree.frame(node);
    if (frame.url !== '') return frame;
  }
  return undefined;
}

/** The category of a script URL; exported for tests. */
export function categoryOfUrl(url: string, appRoot: string | undefined): { kind: CategoryKind; name: string } {
  if (url.startsWith('node:')) return { kind: 'node', name: 'node internals' };
  const path = pathOf(url);
  const packageName = packageOf(path);
  if (packageName !== undefined) return { kind: 'package', name: packageName };
  const app = appRelative(path, appRoot);
  if (app !== undefined) return { kind: 'app', name: app };
  return { kind: 'other', name: url };
}

/** `@scope/name` or `name` after the last node_modules/ (a nested copy is its own package). */
function packageOf(path: string): string | undefined {
  const match = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return match?.[1];
}

function appRelative(path: string, appRoot: string | undefined): string | undefined {
  if (appRoot !== undefined) {
    const root = appRoot.endsWith('/') ? appRoot : `${appRoot}/`;
    if (path.startsWith(root)) return path.slice(root.length);
  }
  const match = /\/((?:dist|src|bench)\/.+)$/.exec(path);
  return match?.[1];
}

/** A file URL's path, or the URL as is (CommonJS modules are reported by path). */
function pathOf(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

function locationOf(frame: CallFrame, appRoot: string | undefined): string {
  const line = frame.lineNumber + 1;
  if (frame.url.startsWith('node:')) return `${frame.url}:${line}`;
  const path = pathOf(frame.url);
  const inPackage = /.*\/node_modules\/(.+)$/.exec(path);
  const short = inPackage?.[1] ?? appRelative(path, appRoot) ?? frame.url;
  return `${short}:${line}`;
}

/** Same function = same name at the same place, whichever paths called it. */
function functionKey(frame: CallFrame): string {
  return `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
}

function top<T>(rows: readonly T[], by: (row: T) => number, count: number): T[] {
  return [...rows].sort((a, b) => by(b) - by(a)).slice(0, count);
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The summary as Markdown sections (categories, top self, top total), for the per-scenario .md file. */
export function renderProfileSummary(summary: ProfileSummary): string {
  const pct = (value: number): string => `${value.toFixed(1)}%`;
  const cell = (text: string): string => text.replaceAll('|', '\\|');
  const functionTable = (rows: readonly FunctionRow[]): string[] => [
    '| # | function | location | category | self samples | self | total samples | total |',
    '| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row, index) =>
        `| ${index + 1} | ${cell(row.name)} | ${cell(row.location)} | ${cell(row.category)} | ` +
        `${row.selfSamples} | ${pct(row.selfPercent)} | ${row.totalSamples} | ${pct(row.totalPercent)} |`,
    ),
  ];
  return [
    `${summary.samples} samples in ${((summary.window.endUs - summary.window.startUs) / 1000).toFixed(0)} ms ` +
      `(one per ${(summary.meanIntervalUs / 1000).toFixed(2)} ms); busy (not idle) in ${pct(summary.busyPercent)} of them. ` +
      'Shares are of samples: frames where the thread was often preempted count beyond their CPU cost (see the per-thread CPU).',
    '',
    '### Self time by category',
    '',
    '| kind | category | samples | share |',
    '| --- | --- | ---: | ---: |',
    ...summary.categories.map((row) => `| ${row.kind} | ${cell(row.name)} | ${row.samples} | ${pct(row.percent)} |`),
    '',
    `### Top ${summary.topSelf.length} functions by self time`,
    '',
    ...functionTable(summary.topSelf),
    '',
    `### Top ${summary.topTotal.length} functions by total time`,
    '',
    ...functionTable(summary.topTotal),
  ].join('\n');
}
