import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { BenchEnvironment, BenchNode } from './environment.js';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_BYTES = 16 * 1024;

/** The server could not be built or did not become ready: exit status 1. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
}

/** A running server child and how to watch and stop it. */
export interface ServerProcess {
  /** "server" (one node) or "node N": how messages name it. */
  readonly label: string;
  /** Its own address, where its /readyz is polled. */
  readonly origin: string;
  readonly pid: number;
  /** Human-readable command, for the report. */
  readonly commandLine: string;
  /** The file its stderr goes to (where Node prints the inspector's URL, for --profile). */
  readonly stderrPath: string;
  /** Aborts when the child exits, so load loops stop instead of spinning on refused connections. */
  readonly exited: AbortSignal;
  /** Tails of the child's stdout and stderr logs, for diagnostics. */
  logs(): string;
  stop(): Promise<void>;
}

/** Runs `npm run build` so dist/ matches src/; throws ServerStartError if it fails. */
export function buildServer(repoRoot: string): void {
  process.stderr.write('bench: npm run build\n');
  // stdout goes to our stderr so the report on stdout stays clean.
  const result = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 2, 2] });
  if (result.error !== undefined) throw new ServerStartError(`npm run build: ${result.error.message}`);
  if (result.status !== 0) throw new ServerStartError(`npm run build exited with status ${String(result.status)}`);
}

/**
 * Spawns `latchkey serve` for one node with its logs going to files in the
 * bench dir. `nodeFlags` go to node before the entry point (--profile's
 * INSPECT_ON_SIGNAL_FLAG).
 */
export function startServer(
  repoRoot: string,
  env: BenchEnvironment,
  node: BenchNode,
  useTsx: boolean,
  nodeFlags: readonly string[] = [],
): ServerProcess {
  const entry = useTsx ? ['--import', 'tsx', 'src/cli/main.ts'] : ['dist/cli/bin.cjs'];
  const args = [...nodeFlags, ...entry, 'serve', '--config', node.configPath];
  const stdoutPath = join(env.dir, `${node.fileStem}.stdout.log`);
  const stderrPath = join(env.dir, `${node.fileStem}.stderr.log`);
  // Files rather than pipes: draining per-request logs would cost the bench
  // process CPU on the same cores the server is measured on, and a pipe we
  // fail to drain would stall the server.
  const stdoutFd = openSync(stdoutPath, 'w');
  const stderrFd = openSync(stderrPath, 'w');
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ['ignore', stdoutFd, stderrFd],
  });
  closeSync(stdoutFd);
  closeSync(stderrFd);
  return wrapChild(child, node, [process.execPath, ...args].join(' '), stdoutPath, stderrPath);
}

/**
 * Starts every node at once, as a deployment does (they take turns on the
 * database for migrations and the configuration apply), and waits until
 * each answers /readyz. If one fails, the ServerStartError names it and
 * carries its logs; the caller stops all of `started`, which holds every
 * child spawned so far.
 */
export async function startNodes(
  repoRoot: string,
  env: BenchEnvironment,
  useTsx: boolean,
  started: ServerProcess[],
  signal: AbortSignal,
  nodeFlags: readonly string[] = [],
): Promise<void> {
  const servers = env.nodes.map((node) => startServer(repoRoot, env, node, useTsx, nodeFlags));
  started.push(...servers);
  for (const server of servers) {
    const which = server.label === 'server' ? '' : `${server.label}, `;
    process.stderr.write(`bench: waiting for ${server.origin}/readyz (${which}pid ${server.pid})\n`);
  }
  // The first failure wins; the other waits stop with it rather than poll on for 30 s.
  const giveUp = new AbortController();
  const waiting = AbortSignal.any([signal, giveUp.signal]);
  try {
    await Promise.all(servers.map((server) => waitUntilReady(server, waiting)));
  } finally {
    giveUp.abort();
  }
}

function childEnv(env: BenchEnvironment): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env, LATCHKEY_MASTER_KEY: env.masterKey };
  // These win over the config file (DESIGN.md §2); an operator's shell must
  // not silently point the bench at a real database or Redis.
  delete result.LATCHKEY_DATABASE_URL;
  delete result.LATCHKEY_REDIS_URL;
  return result;
}

function wrapChild(child: ChildProcess, node: BenchNode, commandLine: string, stdoutPath: string, stderrPath: string): ServerProcess {
  return { ...watchChild(child, node.label, stdoutPath, stderrPath), label: node.label, origin: node.origin, commandLine, stderrPath };
}

/** A child process as the bench watches it: its pid, a signal when it exits, the tails of its logs, and a stop. */
export type WatchedChild = Pick<ServerProcess, 'pid' | 'exited' | 'logs' | 'stop'>;

/**
 * Watches a spawned server (Latchkey's or the peer's, bench/lib/peer.ts):
 * `exited` aborts when it exits, `stop` sends SIGTERM then SIGKILL after a
 * grace period, and the bench's own exit kills it if `stop` was never reached.
 */
export function watchChild(child: ChildProcess, label: string, stdoutPath: string, stderrPath: string): WatchedChild {
  const exitController = new AbortController();
  let exitDescription = '';
  const exitedPromise = new Promise<void>((resolve) => {
    const onGone = (reason: string): void => {
      exitDescription = reason;
      exitController.abort(new Error(`${label} ${reason}`));
      resolve();
    };
    child.once('exit', (code, signal) => onGone(signal === null ? `exited with status ${String(code)}` : `killed by ${signal}`));
    // 'error' without 'exit' means the spawn itself failed.
    child.once('error', (error) => onGone(`could not be spawned: ${error.message}`));
  });
  const isRunning = (): boolean => !exitController.signal.aborted;
  // Last resort if the bench dies without reaching stop(): never leave a server behind.
  const killOnExit = (): void => {
    if (isRunning()) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  return {
    pid: child.pid ?? -1,
    exited: exitController.signal,
    logs: () => {
      const status = exitDescription === '' ? '' : `${label} ${exitDescription}\n`;
      return (
        `${status}--- ${label} stdout (tail) ---\n${readTail(stdoutPath)}\n` + `--- ${label} stderr (tail) ---\n${readTail(stderrPath)}`
      );
    },
    stop: async () => {
      if (isRunning()) {
        child.kill('SIGTERM');
        const timedOut = await Promise.race([exitedPromise.then(() => false), sleep(STOP_GRACE_MS, true)]);
        if (timedOut) {
          process.stderr.write(`bench: ${label} ignored SIGTERM for ${STOP_GRACE_MS} ms, sending SIGKILL\n`);
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
      process.off('exit', killOnExit);
    },
  };
}

/**
 * Polls GET /readyz until it answers 200; throws ServerStartError after 30 s
 * or if the child exits, and returns quietly once `signal` aborts (another
 * node failed, or an interrupt: the caller reports that).
 */
export async function waitUntilReady(server: ServerProcess, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (performance.now() < deadline && !signal.aborted) {
    if (server.exited.aborted) throw new ServerStartError(`${server.label} stopped before it was ready\n${server.logs()}`);
    lastProblem = await probeReady(server.origin);
    if (lastProblem === '') return;
    await sleep(READY_POLL_MS);
  }
  if (signal.aborted) return;
  throw new ServerStartError(
    `${server.label} not ready after ${READY_TIMEOUT_MS / 1000} s (last /readyz: ${lastProblem})\n${server.logs()}`,
  );
}

/** One readiness probe: '' when ready, otherwise what went wrong. */
async function probeReady(origin: string): Promise<string> {
  try {
    // `reset` closes the connection after the answer: an idle keep-alive
    // socket from the global dispatcher could otherwise delay graceful shutdown.
    const response = await request(`${origin}/readyz`, { headersTimeout: 2_000, bodyTimeout: 2_000, reset: true });
    const body = await response.body.text();
    return response.statusCode === 200 ? '' : `${response.statusCode} ${body.slice(0, 200)}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The last LOG_TAIL_BYTES of a log, read without loading a possibly large file. */
function readTail(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return (size > length ? '…' : '') + buffer.toString('utf8');
  } catch {
    return '(no log)';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
