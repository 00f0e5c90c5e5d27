import { activateInspector, InspectorSession } from './inspector.js';
import type { CpuProfile, TimeWindow } from './profile.js';
import { poolThreadsFromProbe, readThreadTimes, type ThreadTimes } from './thread-cpu.js';

/** A Node process to profile: started with INSPECT_ON_SIGNAL_FLAG, its stderr going to a file. A ServerProcess is one. */
export interface ProfileTarget {
  readonly label: string;
  readonly pid: number;
  readonly stderrPath: string;
}

/** 1 ms, V8's default: a few thousand samples per 5 s window; the sampler thread (v8:ProfEvntProc in the thread table) took ~0.05 core here. */
export const SAMPLING_INTERVAL_US = 1000;
/** Enough ~10 ms jobs that every pool thread gets several, however many there are up to 8. */
const POOL_PROBE_JOBS = 48;
const POOL_PROBE = `new Promise((resolve, reject) => {
  const { pbkdf2 } = process.getBuiltinModule('node:crypto');
  let left = ${POOL_PROBE_JOBS};
  for (let i = 0; i < ${POOL_PROBE_JOBS}; i++) {
    pbkdf2('pool probe', 'salt', 20000, 32, 'sha256', (error) => (error ? reject(error) : --left === 0 && resolve(true)));
  }
})`;

/** One window of one process: the main thread's profile and every thread's CPU at both ends. */
export interface WindowCapture {
  readonly profile: CpuProfile;
  readonly window: TimeWindow;
  readonly threadsBefore: ThreadTimes[] | undefined;
  readonly threadsAfter: ThreadTimes[] | undefined;
}

/**
 * One Node process under the inspector, profiled window by window: attach
 * (activates the inspector, finds the libuv pool), then begin()/end()
 * around each window, then close(). Nothing here knows what the process
 * serves, so a peer server is profiled like Latchkey.
 */
export class ProcessProfiler {
  private started: { readonly ns: bigint; readonly threads: ThreadTimes[] | undefined } | undefined;

  private constructor(
    readonly target: ProfileTarget,
    private readonly session: InspectorSession,
    readonly poolTids: number[] | undefined,
  ) {}

  static async attach(target: ProfileTarget, ticksPerSecond: number): Promise<ProcessProfiler> {
    const session = await InspectorSession.connect(await activateInspector(target.pid, target.stderrPath));
    try {
      await session.send('Profiler.enable');
      await session.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
      return new ProcessProfiler(target, session, await findPoolThreads(session, target, ticksPerSecond));
    } catch (error) {
      session.close();
      throw error;
    }
  }

  /** Starts the profiler, then the window: its start-up cost stays outside. */
  async begin(): Promise<void> {
    await this.session.send('Profiler.start');
    const threads = readThreadTimes(this.target.pid);
    this.started = { ns: process.hrtime.bigint(), threads };
  }

  /** Ends the window, then stops the profiler; the profile is cut to the window when summarised. */
  async end(): Promise<WindowCapture> {
    const endNs = process.hrtime.bigint();
    const threadsAfter = readThreadTimes(this.target.pid);
    const { profile } = await this.session.send<{ profile: CpuProfile }>('Profiler.stop');
    const started = this.started;
    this.started = undefined;
    if (started === undefined) throw new Error('ProcessProfiler.end() without begin()');
    // hrtime is CLOCK_MONOTONIC in ns, V8's profile clock the same in µs (profile.ts).
    const window = { startUs: Number(started.ns / 1000n), endUs: Number(endNs / 1000n) };
    return { profile, window, threadsBefore: started.threads, threadsAfter };
  }

  /** After a failed window: leaves the profiler stopped for the next one. */
  async stopQuietly(): Promise<void> {
    this.started = undefined;
    await this.session.send('Profiler.stop').catch(() => undefined);
  }

  close(): void {
    this.session.close();
  }
}

/**
 * Node 20's threads are all named alike, so the pool is found by running a
 * burst of pool jobs (pbkdf2) in the idle process and seeing which threads
 * ran them (thread-cpu.ts). Undefined, with a warning, if that fails.
 */
async function findPoolThreads(session: InspectorSession, target: ProfileTarget, ticksPerSecond: number): Promise<number[] | undefined> {
  const before = readThreadTimes(target.pid);
  const reply = await session.send<{ exceptionDetails?: { text?: string } }>('Runtime.evaluate', {
    expression: POOL_PROBE,
    awaitPromise: true,
    returnByValue: true,
  });
  const after = readThreadTimes(target.pid);
  const notFound = (why: string): undefined => {
    process.stderr.write(`bench: ${target.label}: libuv pool threads not identified (${why}); grouped with the others\n`);
    return undefined;
  };
  if (reply.exceptionDetails !== undefined) return notFound(`the probe threw: ${reply.exceptionDetails.text ?? 'no text'}`);
  if (before === undefined || after === undefined) return notFound(`/proc/${target.pid}/task is not readable`);
  const pool = poolThreadsFromProbe(before, after, target.pid);
  if (pool.length === 0) return notFound('no thread ran the probe');
  const ticks = (threads: readonly ThreadTimes[], tid: number): number => threads.find((thread) => thread.tid === tid)?.ticks ?? 0;
  const described = pool.map((tid) => `${tid} (${((1000 * (ticks(after, tid) - ticks(before, tid))) / ticksPerSecond).toFixed(0)} ms)`);
  process.stderr.write(`bench: ${target.label}: libuv pool threads by probe: ${described.join(', ')}\n`);
  return pool;
}
