/**
 * Starts and stops the bench's peer (bench/peer/server.ts, issue #13) as a
 * child process, the way server.ts does for Latchkey: logs to files in the
 * bench's temp dir, an AbortSignal that fires when it exits, SIGTERM then
 * SIGKILL to stop it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PEER_READY_PREFIX, type PeerSettings } from '../peer/contract.js';
import { watchChild, type ServerProcess, type WatchedChild } from './server.js';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;

/** The peer could not be started or did not say it was listening. */
export class PeerStartError extends Error {
  override readonly name = 'PeerStartError';
}

/** A running peer: a ServerProcess (so the abort reporting treats it like a node) plus what the report names. */
export interface PeerProcess extends ServerProcess {
  /** "@node-oauth/oauth2-server 5.3.0": the library version actually loaded. */
  readonly library: string;
  /** The pool size the peer runs with: the same rule as Latchkey's bin (src/cli/bin.cts), for a like-for-like argon2 ceiling. */
  readonly uvThreadpoolSize: string;
}

/**
 * Writes the peer's settings (mode 0600: they hold the bench's secrets)
 * into `dir`, spawns the peer through tsx, and waits for its ready line.
 * On failure the child is stopped and a PeerStartError carries its logs.
 */
export async function startPeer(repoRoot: string, dir: string, settings: PeerSettings, signal: AbortSignal): Promise<PeerProcess> {
  const settingsPath = join(dir, 'peer.json');
  await writeFile(settingsPath, JSON.stringify(settings), { mode: 0o600 });
  const args = ['--import', 'tsx', 'bench/peer/server.ts', settingsPath];
  const stdoutPath = join(dir, 'peer.stdout.log');
  const stderrPath = join(dir, 'peer.stderr.log');
  const uvThreadpoolSize = process.env.UV_THREADPOOL_SIZE ?? String(Math.max(2, availableParallelism()));
  // Files rather than pipes, as for Latchkey: nothing to drain on the measured cores.
  const stdoutFd = openSync(stdoutPath, 'w');
  const stderrFd = openSync(stderrPath, 'w');
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, UV_THREADPOOL_SIZE: uvThreadpoolSize },
    stdio: ['ignore', stdoutFd, stderrFd],
  });
  closeSync(stdoutFd);
  closeSync(stderrFd);
  const commandLine = `UV_THREADPOOL_SIZE=${uvThreadpoolSize} ${[process.execPath, ...args].join(' ')}`;
  const watched = watchChild(child, 'the peer', stdoutPath, stderrPath);
  try {
    const origin = await waitForOrigin(stdoutPath, watched, signal);
    return { ...watched, label: 'the peer', origin, commandLine, stderrPath, library: libraryVersion(repoRoot), uvThreadpoolSize };
  } catch (error) {
    await watched.stop();
    throw error;
  }
}

/** Polls the peer's stdout for its ready line; the origin it names is where the load goes. */
async function waitForOrigin(stdoutPath: string, peer: WatchedChild, signal: AbortSignal): Promise<string> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (signal.aborted) throw new PeerStartError('interrupted before it was ready');
    const line = readFileSync(stdoutPath, 'utf8')
      .split('\n')
      .find((text) => text.startsWith(PEER_READY_PREFIX));
    if (line !== undefined) return line.slice(PEER_READY_PREFIX.length).trim();
    if (peer.exited.aborted) throw new PeerStartError(`it stopped before it was ready\n${peer.logs()}`);
    await sleep(READY_POLL_MS);
  }
  throw new PeerStartError(`no ready line after ${READY_TIMEOUT_MS / 1000} s\n${peer.logs()}`);
}

function libraryVersion(repoRoot: string): string {
  const name = '@node-oauth/oauth2-server';
  try {
    const manifest: unknown = createRequire(join(repoRoot, 'package.json'))(`${name}/package.json`);
    const version = typeof manifest === 'object' && manifest !== null && 'version' in manifest ? String(manifest.version) : '?';
    return `${name} ${version}`;
  } catch {
    return name;
  }
}
