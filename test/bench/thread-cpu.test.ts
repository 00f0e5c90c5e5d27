/**
 * CPU per thread for the bench's profiles (bench/lib/thread-cpu.ts): the
 * /proc stat parse, finding the libuv pool from a probe, and the grouping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStat, poolThreadsFromProbe, renderThreadCpu, threadCpuBetween, type ThreadTimes } from '../../bench/lib/thread-cpu.js';

const PID = 100;
const thread = (tid: number, ticks: number, comm = 'node'): ThreadTimes => ({ tid, comm, ticks });

describe('thread CPU', () => {
  it('parseStat reads comm (even with spaces and parentheses) and utime + stime', () => {
    const stat = '4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1500 0 3 0 120 35 0 0 20 0 11 0 9876 0';
    assert.deepEqual(parseStat(stat), { comm: 'a) (b c', ticks: 155 });
    assert.equal(parseStat('garbage'), undefined);
  });

  it('the pool is the threads other than main that ran the probe, above the tick rounding', () => {
    const before = [thread(PID, 100), thread(101, 5), thread(105, 50), thread(106, 50), thread(107, 0)];
    const after = [thread(PID, 130), thread(101, 6), thread(105, 70), thread(106, 68), thread(107, 1), thread(110, 1)];
    assert.deepEqual(poolThreadsFromProbe(before, after, PID), [105, 106]);
    assert.deepEqual(poolThreadsFromProbe(before, before, PID), []);
  });

  it('groups main, the pool, threads started before and after it, and named threads; a new thread counts from zero', () => {
    const before = [
      thread(PID, 1000),
      thread(101, 10),
      thread(105, 500),
      thread(106, 400),
      thread(108, 7),
      thread(120, 0, 'v8:ProfEvntProc'),
    ];
    const after = [
      thread(PID, 1100),
      thread(101, 20),
      thread(105, 560),
      thread(106, 450),
      thread(120, 10, 'v8:ProfEvntProc'),
      thread(130, 20),
    ];
    const report = threadCpuBetween(before, after, { pid: PID, poolTids: [105, 106], windowSeconds: 2, ticksPerSecond: 100 });
    assert.equal(report.cpuSeconds, 2.5);
    assert.equal(report.exitedThreads, 1);
    assert.deepEqual(
      report.groups.map((g) => [g.group, g.threads, g.cpuSeconds, g.percent, g.cores]),
      [
        ['libuv pool', 2, 1.1, 44, 0.55],
        ['main', 1, 1, 40, 0.5],
        ['threads created after the pool (worker_threads, inspector, …)', 1, 0.2, 8, 0.1],
        ['start-up threads (V8 platform: GC, compiler; signal watcher)', 1, 0.1, 4, 0.05],
        ['v8:ProfEvntProc', 1, 0.1, 4, 0.05],
      ],
    );
    assert.deepEqual(
      report.threads.map((t) => t.tid),
      [PID, 101, 105, 106, 120, 130],
    );
    assert.match(renderThreadCpu(report), /\| libuv pool \| 2 \| 1\.10 \| 44\.0% \| 0\.55 \|/);
    assert.match(renderThreadCpu(report), /1 thread\(s\) ended during the window/);
  });

  it('without an identified pool, unnamed threads other than main are "other"', () => {
    const report = threadCpuBetween([thread(PID, 0), thread(101, 0)], [thread(PID, 10), thread(101, 30)], {
      pid: PID,
      poolTids: undefined,
      windowSeconds: 1,
      ticksPerSecond: 100,
    });
    assert.deepEqual(
      report.groups.map((g) => g.group),
      ['other threads (pool not identified)', 'main'],
    );
  });
});
