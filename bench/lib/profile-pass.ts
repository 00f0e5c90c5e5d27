import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, runScenario, type RunContext, type ScenarioResult, type ScenarioSpec } from './load.js';
import { ProcessProfiler, SAMPLING_INTERVAL_US, type ProfileTarget, type WindowCapture } from './process-profiler.js';
import { renderProfileSummary, summariseProfile, type ProfileSummary } from './profile.js';
import { MAIN_GROUP, POOL_GROUP, renderThreadCpu, threadCpuBetween, type ThreadCpuReport } from './thread-cpu.js';

/**
 * `--profile DIR`: after the measured rounds, one more window per scenario
 * and round with the server profiled, so the report's figures carry no
 * profiler cost. Per window and process: the main thread's V8 CPU profile
 * (.cpuprofile, a flame graph in Chrome DevTools or speedscope), CPU per
 * thread from /proc, and a summary of both (.md to read, .json to diff).
 */

export interface ProfileOptions {
  readonly dir: string;
  readonly rounds: number;
  /** The app's checkout: its own files are summarised one by one. */
  readonly appRoot: string;
  readonly ticksPerSecond: number;
}

/** What one profiled window of one process gives, as written to <name>.json. */
export interface ProfileReport {
  readonly scenario: string;
  readonly description: string;
  readonly connections: number;
  readonly round: number;
  readonly rounds: number;
  readonly process: string;
  readonly pid: number;
  readonly samplingIntervalUs: number;
  /** The load during the profiled window: with the profiler's cost, not the report's figures. */
  readonly load: Pick<
    ScenarioResult,
    'seconds' | 'completed' | 'errors' | 'requestsPerSecond' | 'p50Ms' | 'p99Ms' | 'serverCpuSeconds' | 'requestsPerServerCpuSecond'
  >;
  /** CPU ms per request this process answered (all requests ÷ processes: the load spreads them round-robin). */
  readonly perRequestMs: { readonly process: number; readonly mainThread: number; readonly pool: number } | undefined;
  readonly threads: ThreadCpuReport | undefined;
  readonly mainThread: ProfileSummary;
}

/** Profiles every scenario `rounds` times; false if any window could not be profiled (the others still are). */
export async function profileScenarios(
  scenarios: readonly ScenarioSpec[],
  ctx: RunContext,
  targets: readonly ProfileTarget[],
  options: ProfileOptions,
): Promise<boolean> {
  const profilers: ProcessProfiler[] = [];
  try {
    await mkdir(options.dir, { recursive: true });
    for (const target of targets) profilers.push(await ProcessProfiler.attach(target, options.ticksPerSecond));
  } catch (error) {
    process.stderr.write(`bench: cannot profile: ${describe(error)}\n`);
    for (const profiler of profilers) profiler.close();
    return false;
  }
  let allProfiled = true;
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const spec of scenarios) {
        if (ctx.signal.aborted) return false;
        const label = options.rounds > 1 ? `, round ${round} of ${options.rounds}` : '';
        process.stderr.write(`bench: profiling ${spec.name} (${spec.connections} connections, ${ctx.durationSeconds} s${label})\n`);
        const profiled = await profileScenario(spec, ctx, profilers, { ...options, round });
        allProfiled &&= profiled;
      }
    }
  } finally {
    for (const profiler of profilers) profiler.close();
  }
  return allProfiled;
}

async function profileScenario(
  spec: ScenarioSpec,
  ctx: RunContext,
  profilers: readonly ProcessProfiler[],
  options: ProfileOptions & { readonly round: number },
): Promise<boolean> {
  let captures: WindowCapture[] = [];
  const aroundWindow = {
    begin: async (): Promise<void> => {
      await Promise.all(profilers.map((profiler) => profiler.begin()));
    },
    end: async (): Promise<void> => {
      captures = await Promise.all(profilers.map((profiler) => profiler.end()));
    },
  };
  let result: ScenarioResult;
  try {
    result = await runScenario(spec, { ...ctx, aroundWindow });
  } catch (error) {
    process.stderr.write(`bench:   profiling failed: ${describe(error)}\n`);
    await Promise.all(profilers.map((profiler) => profiler.stopQuietly()));
    return false;
  }
  if (result.setupError !== undefined) {
    process.stderr.write(`bench:   ${result.setupError}; nothing profiled\n`);
    return false;
  }
  const doubleSpent = result.doubleSpentRefreshTokens ?? 0;
  if (doubleSpent > 0) {
    process.stderr.write(`bench:   ${doubleSpent} double-spent refresh token(s) in the profiled window: rotation is broken\n`);
  }
  for (const [index, capture] of captures.entries()) {
    const profiler = profilers[index]!;
    const stem = [spec.name, options.rounds > 1 ? `round-${options.round}` : '', profilers.length > 1 ? profiler.target.label : '']
      .filter((part) => part !== '')
      .join('-')
      .replaceAll(/[^A-Za-z0-9._-]+/g, '-');
    const report = buildReport(spec, result, capture, profiler, { ...options, processes: profilers.length });
    try {
      await writeFile(join(options.dir, `${stem}.cpuprofile`), JSON.stringify(capture.profile));
      await writeFile(join(options.dir, `${stem}.json`), `${JSON.stringify(report, null, 2)}\n`);
      await writeFile(join(options.dir, `${stem}.md`), `${renderProfileReport(report, `${stem}.cpuprofile`)}\n`);
    } catch (error) {
      process.stderr.write(`bench:   cannot write the profile: ${describe(error)}\n`);
      return false;
    }
    process.stderr.write(`${briefly(report)}bench:   → ${join(options.dir, stem)}.md (.json, .cpuprofile)\n`);
  }
  return doubleSpent === 0;
}

function buildReport(
  spec: ScenarioSpec,
  result: ScenarioResult,
  capture: WindowCapture,
  profiler: ProcessProfiler,
  options: ProfileOptions & { readonly round: number; readonly processes: number },
): ProfileReport {
  const windowSeconds = (capture.window.endUs - capture.window.startUs) / 1e6;
  const mainThread = summariseProfile(capture.profile, { window: capture.window, appRoot: options.appRoot });
  if (mainThread.samples === 0 && (capture.profile.samples?.length ?? 0) > 0) {
    process.stderr.write('bench:   warning: no sample falls in the window: the profile and the bench disagree on the clock\n');
  }
  const threads =
    capture.threadsBefore === undefined || capture.threadsAfter === undefined
      ? undefined
      : threadCpuBetween(capture.threadsBefore, capture.threadsAfter, {
          pid: profiler.target.pid,
          poolTids: profiler.poolTids,
          windowSeconds,
          ticksPerSecond: options.ticksPerSecond,
        });
  const requests = result.completed / options.processes;
  const groupMs = (group: string): number => 1000 * (threads?.groups.find((row) => row.group === group)?.cpuSeconds ?? 0);
  return {
    scenario: spec.name,
    description: spec.description,
    connections: spec.connections,
    round: options.round,
    rounds: options.rounds,
    process: profiler.target.label,
    pid: profiler.target.pid,
    samplingIntervalUs: SAMPLING_INTERVAL_US,
    load: {
      seconds: result.seconds,
      completed: result.completed,
      errors: result.errors,
      requestsPerSecond: result.requestsPerSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      serverCpuSeconds: result.serverCpuSeconds,
      requestsPerServerCpuSecond: result.requestsPerServerCpuSecond,
    },
    perRequestMs:
      threads === undefined || requests === 0
        ? undefined
        : {
            process: (1000 * threads.cpuSeconds) / requests,
            mainThread: groupMs(MAIN_GROUP) / requests,
            pool: groupMs(POOL_GROUP) / requests,
          },
    threads,
    mainThread,
  };
}

export function renderProfileReport(report: ProfileReport, profileFile: string): string {
  const load = report.load;
  const fixed = (value: number | undefined, digits: number): string =>
    value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
  const where = [report.rounds > 1 ? `round ${report.round} of ${report.rounds}` : '', report.process]
    .filter((part) => part !== '')
    .join(', ');
  const perRequest = report.perRequestMs;
  return [
    `# Profile: ${report.scenario} (${where})`,
    '',
    `${report.description}, ${report.connections} connections. An extra window after the measured rounds: these figures carry the ` +
      "profiler's cost and are not the report's.",
    `pid ${report.pid}; main thread sampled every ${report.samplingIntervalUs} µs; flame graph: ${profileFile} ` +
      '(Chrome DevTools › Performance › Load profile, or speedscope.app).',
    '',
    '| seconds | requests | req/s | p50 ms | p99 ms | errors | server CPU s | req per server CPU-s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${fixed(load.seconds, 2)} | ${load.completed} | ${fixed(load.requestsPerSecond, 1)} | ${fixed(load.p50Ms, 1)} | ` +
      `${fixed(load.p99Ms, 1)} | ${load.errors} | ${fixed(load.serverCpuSeconds, 2)} | ${fixed(load.requestsPerServerCpuSecond, 1)} |`,
    '',
    perRequest === undefined
      ? 'CPU per request: n/a.'
      : `CPU per request: process ${perRequest.process.toFixed(3)} ms, main thread ${perRequest.mainThread.toFixed(3)} ms, ` +
        `libuv pool ${perRequest.pool.toFixed(3)} ms.`,
    '',
    '## CPU per thread',
    '',
    report.threads === undefined ? 'Not readable (/proc).' : renderThreadCpu(report.threads),
    '',
    '## Main thread: V8 CPU profile',
    '',
    renderProfileSummary(report.mainThread),
  ].join('\n');
}

/** Three lines for stderr: load, thread groups, top categories. */
function briefly(report: ProfileReport): string {
  const groups = report.threads?.groups
    .filter((group) => group.cpuSeconds > 0)
    .map((group) => `${group.group.replace(/ \(.*\)$/, '')} ${group.cores.toFixed(2)}`)
    .join(', ');
  const categories = report.mainThread.categories
    .slice(0, 6)
    .map((row) => `${row.name} ${row.percent.toFixed(0)}%`)
    .join(', ');
  return (
    `bench:   ${report.process}: cores ${groups ?? 'n/a'}; the load: ${report.load.requestsPerSecond.toFixed(1)} req/s while profiled\n` +
    `bench:   main thread: ${categories}\n`
  );
}
