import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second, the unit of /proc/<pid>/stat times (normally 100). */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // getconf missing: fall through to the Linux default.
  }
  return 100;
}

/**
 * CPU seconds (user + system, all threads) a live process has used, from
 * /proc/<pid>/stat fields 14 and 15. Counting all threads matters: argon2
 * runs on libuv's thread pool, not on the event loop. Undefined off Linux or
 * once the process is gone.
 */
export function processCpuSeconds(pid: number, ticksPerSecond: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) is parenthesised and may contain spaces, so count fields
  // from the last ')': what follows starts at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / ticksPerSecond;
}
