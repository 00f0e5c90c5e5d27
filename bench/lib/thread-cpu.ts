import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU per thread of a process over a window, from /proc/PID/task/TID/stat,
 * grouped by what the thread does: the main thread (JS, the event loop),
 * libuv's pool (argon2id, WebCrypto and other async crypto, fs), and the
 * rest (V8's platform workers: concurrent GC and compilation; the inspector;
 * worker_threads).
 *
 * Node 20 names no thread: every one has the executable's comm ("node";
 * libuv only names its workers from 1.50, which Node 20 does not ship). So a
 * thread is grouped by its comm only when that differs from the main
 * thread's, and the libuv pool is found by experiment instead
 * (poolThreadsFromProbe: a burst of pool jobs, and the threads that ran it).
 * The threads created before the pool are the start-up ones (V8 platform's
 * scheduler and workers, the SIGUSR1 watcher); later ones are
 * worker_threads, the inspector's I/O thread once activated, and the like.
 * Thread ids are taken to grow in creation order, which holds until the
 * kernel's pid counter wraps.
 */

/** One thread's CPU so far, in clock ticks (user + system). */
export interface ThreadTimes {
  readonly tid: number;
  readonly comm: string;
  readonly ticks: number;
}

export interface ThreadCpuRow {
  readonly tid: number;
  readonly comm: string;
  readonly group: string;
  readonly cpuSeconds: number;
}

export interface ThreadGroupRow {
  readonly group: string;
  readonly threads: number;
  readonly cpuSeconds: number;
  /** Of the process's CPU in the window. */
  readonly percent: number;
  /** CPU seconds per window second: how many cores the group kept busy. */
  readonly cores: number;
}

export interface ThreadCpuReport {
  readonly windowSeconds: number;
  readonly cpuSeconds: number;
  /** Descending by CPU. */
  readonly groups: readonly ThreadGroupRow[];
  /** In thread-id order. */
  readonly threads: readonly ThreadCpuRow[];
  /** Threads seen before the window and gone after it: their CPU in the window is missing. */
  readonly exitedThreads: number;
}

export const MAIN_GROUP = 'main';
export const POOL_GROUP = 'libuv pool';
const STARTUP_GROUP = 'start-up threads (V8 platform: GC, compiler; signal watcher)';
const LATER_GROUP = 'threads created after the pool (worker_threads, inspector, …)';
const OTHER_GROUP = 'other threads (pool not identified)';

/** Every thread of a live process; undefined off Linux or once it is gone. A thread that ends while being read is left out. */
export function readThreadTimes(pid: number): ThreadTimes[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const threads: ThreadTimes[] = [];
  for (const tid of tids) {
    try {
      const times = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      if (times !== undefined) threads.push({ tid: Number(tid), ...times });
    } catch {
      // Gone between readdir and read.
    }
  }
  return threads.sort((a, b) => a.tid - b.tid);
}

/** comm and utime + stime (fields 2, 14, 15) of a stat line; exported for tests. */
export function parseStat(stat: string): { comm: string; ticks: number } | undefined {
  // comm is parenthesised and may hold spaces or parentheses: it ends at the last ')'.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return Number.isFinite(ticks) ? { comm: stat.slice(open + 1, close), ticks } : undefined;
}

/**
 * The pool's threads: those other than the main one that gained at least a
 * tenth of the busiest one's CPU while only a burst of pool jobs ran (and at
 * least two ticks, above the tick counter's rounding).
 */
export function poolThreadsFromProbe(before: readonly ThreadTimes[], after: readonly ThreadTimes[], pid: number): number[] {
  const start = new Map(before.map((thread) => [thread.tid, thread.ticks]));
  const gains = after
    .filter((thread) => thread.tid !== pid)
    .map((thread) => ({ tid: thread.tid, ticks: thread.ticks - (start.get(thread.tid) ?? 0) }));
  const busiest = Math.max(0, ...gains.map((gain) => gain.ticks));
  const threshold = Math.max(2, busiest / 10);
  return gains.filter((gain) => gain.ticks >= threshold).map((gain) => gain.tid);
}

/** A thread's group; see the file comment. `poolTids` undefined: the pool was not identified. */
export function groupOf(thread: ThreadTimes, pid: number, mainComm: string, poolTids: readonly number[] | undefined): string {
  if (thread.tid === pid) return MAIN_GROUP;
  if (poolTids?.includes(thread.tid)) return POOL_GROUP;
  if (thread.comm !== mainComm) return thread.comm;
  if (poolTids === undefined || poolTids.length === 0) return OTHER_GROUP;
  return thread.tid < Math.min(...poolTids) ? STARTUP_GROUP : LATER_GROUP;
}

/** CPU per thread and per group between two snapshots; a thread born in the window counts from zero. */
export function threadCpuBetween(
  before: readonly ThreadTimes[],
  after: readonly ThreadTimes[],
  options: {
    readonly pid: number;
    readonly poolTids: readonly number[] | undefined;
    readonly windowSeconds: number;
    readonly ticksPerSecond: number;
  },
): ThreadCpuReport {
  const start = new Map(before.map((thread) => [thread.tid, thread.ticks]));
  const mainComm = after.find((thread) => thread.tid === options.pid)?.comm ?? '';
  // Sums in whole ticks, divided once: no rounding drift between the rows and their total.
  const threads = after.map((thread) => ({
    tid: thread.tid,
    comm: thread.comm,
    group: groupOf(thread, options.pid, mainComm, options.poolTids),
    ticks: thread.ticks - (start.get(thread.tid) ?? 0),
  }));
  const totalTicks = threads.reduce((total, thread) => total + thread.ticks, 0);
  const byGroup = new Map<string, { threads: number; ticks: number }>();
  for (const thread of threads) {
    const group = byGroup.get(thread.group) ?? { threads: 0, ticks: 0 };
    group.threads += 1;
    group.ticks += thread.ticks;
    byGroup.set(thread.group, group);
  }
  const alive = new Set(after.map((thread) => thread.tid));
  const windowTicks = options.windowSeconds * options.ticksPerSecond;
  return {
    windowSeconds: options.windowSeconds,
    cpuSeconds: totalTicks / options.ticksPerSecond,
    groups: [...byGroup]
      .map(([group, totals]) => ({
        group,
        threads: totals.threads,
        cpuSeconds: totals.ticks / options.ticksPerSecond,
        percent: totalTicks > 0 ? (100 * totals.ticks) / totalTicks : 0,
        cores: windowTicks > 0 ? totals.ticks / windowTicks : 0,
      }))
      .sort((a, b) => b.cpuSeconds - a.cpuSeconds || a.group.localeCompare(b.group)),
    threads: threads
      .map(({ tid, comm, group, ticks }): ThreadCpuRow => ({ tid, comm, group, cpuSeconds: ticks / options.ticksPerSecond }))
      .sort((a, b) => a.tid - b.tid),
    exitedThreads: before.filter((thread) => !alive.has(thread.tid)).length,
  };
}

/** The report as Markdown: groups, then every thread that used CPU. */
export function renderThreadCpu(report: ThreadCpuReport): string {
  const s = (value: number): string => value.toFixed(2);
  const busy = report.threads.filter((thread) => thread.cpuSeconds > 0);
  const lines = [
    `Process CPU ${s(report.cpuSeconds)} s in a ${s(report.windowSeconds)} s window (${s(report.cpuSeconds / report.windowSeconds)} cores).`,
    '',
    '| thread group | threads | CPU s | share | cores |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...report.groups.map((g) => `| ${g.group} | ${g.threads} | ${s(g.cpuSeconds)} | ${g.percent.toFixed(1)}% | ${s(g.cores)} |`),
    '',
    '| tid | comm | group | CPU s |',
    '| ---: | --- | --- | ---: |',
    ...busy.map((thread) => `| ${thread.tid} | ${thread.comm} | ${thread.group} | ${s(thread.cpuSeconds)} |`),
  ];
  if (report.exitedThreads > 0) lines.push('', `${report.exitedThreads} thread(s) ended during the window; their CPU is missing.`);
  return lines.join('\n');
}
