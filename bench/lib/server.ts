import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { BenchEnvironment } from './environment.js';

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
  readonly pid: number;
  /** Human-readable command, for the report. */
  readonly commandLine: string;
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

/** Spawns `latchkey serve` with its logs going to files in the bench dir. */
export function startServer(repoRoot: string, env: BenchEnvironment, useTsx: boolean): ServerProcess {
  const entry = useTsx ? ['--import', 'tsx', 'src/cli/main.ts'] : ['dist/cli/bin.cjs'];
  const args = [...entry, 'serve', '--config', env.configPath];
  const stdoutPath = join(env.dir, 'server.stdout.log');
  const stderrPath = join(env.dir, 'server.stderr.log');
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
  return wrapChild(child, [process.execPath, ...args].join(' '), stdoutPath, stderrPath);
}

function childEnv(env: BenchEnvironment): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env, LATCHKEY_MASTER_KEY: env.masterKey };
  // These win over the config file (DESIGN.md §2); an operator's shell must
  // not silently point the bench at a real database or Redis.
  delete result['LATCHKEY_DATABASE_URL'];
  delete result['LATCHKEY_REDIS_URL'];
  return result;
}

function wrapChild(child: ChildProcess, commandLine: string, stdoutPath: string, stderrPath: string): ServerProcess {
  const exitController = new AbortController();
  let exitDescription = '';
  const exitedPromise = new Promise<void>((resolve) => {
    const onGone = (reason: string): void => {
      exitDescription = reason;
      exitController.abort(new Error(`server ${reason}`));
      resolve();
    };
    child.once('exit', (code, signal) =>
      onGone(signal === null ? `exited with status ${String(code)}` : `killed by ${signal}`),
    );
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
    commandLine,
    exited: exitController.signal,
    logs: () => {
      const status = exitDescription === '' ? '' : `server ${exitDescription}\n`;
      return `${status}--- server stdout (tail) ---\n${readTail(stdoutPath)}\n--- server stderr (tail) ---\n${readTail(stderrPath)}`;
    },
    stop: async () => {
      if (isRunning()) {
        child.kill('SIGTERM');
        const timedOut = await Promise.race([exitedPromise.then(() => false), sleep(STOP_GRACE_MS, true)]);
        if (timedOut) {
          process.stderr.write(`bench: server ignored SIGTERM for ${STOP_GRACE_MS} ms, sending SIGKILL\n`);
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
      process.off('exit', killOnExit);
    },
  };
}

/** Polls GET /readyz until it answers 200; throws ServerStartError after 30 s or if the child exits. */
export async function waitUntilReady(server: ServerProcess, origin: string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (performance.now() < deadline) {
    if (server.exited.aborted) throw new ServerStartError(`server stopped before it was ready\n${server.logs()}`);
    lastProblem = await probeReady(origin);
    if (lastProblem === '') return;
    await sleep(READY_POLL_MS);
  }
  throw new ServerStartError(
    `server not ready after ${READY_TIMEOUT_MS / 1000} s (last /readyz: ${lastProblem})\n${server.logs()}`,
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
