import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'undici';

/**
 * A minimal client of a running Node process's inspector (the Chrome
 * DevTools protocol over WebSocket), enough to profile it from outside.
 *
 * Why the inspector rather than `node --cpu-prof`: --cpu-prof writes one
 * profile per process lifetime, at exit, so each scenario would need its own
 * server (start-up, migrations and a cold JIT inside or around every window).
 * Over the inspector one warm server is profiled window by window with
 * Profiler.start/stop, and the profile comes back as the reply.
 *
 * Why activate it with SIGUSR1 rather than `--inspect`: the process runs the
 * measured pass exactly as without profiling (no inspector thread, nothing
 * listening), and is switched on only for the profiled pass after it. Any
 * Node process started with INSPECT_ON_SIGNAL_FLAG can be profiled this way
 * by its pid and the file its stderr goes to.
 */

/** Sets the port SIGUSR1 opens the inspector on to any free one (several servers at once); nothing listens before the signal. */
export const INSPECT_ON_SIGNAL_FLAG = '--inspect-port=0';

const ACTIVATION_TIMEOUT_MS = 5_000;
const ACTIVATION_POLL_MS = 50;
const CONNECT_TIMEOUT_MS = 5_000;
/** Profiler.stop of a long window sends megabytes; nothing else takes long. */
const REPLY_TIMEOUT_MS = 60_000;
const LISTENING = /Debugger listening on (ws:\/\/\S+)/g;

/** The inspector could not be reached or refused a command. */
export class InspectorError extends Error {
  override readonly name = 'InspectorError';
}

/**
 * Sends SIGUSR1 and waits for Node's "Debugger listening on ws://…" line in
 * the process's stderr; returns that URL. A process whose inspector is
 * already on has the line already, and the signal changes nothing.
 */
export async function activateInspector(pid: number, stderrPath: string): Promise<string> {
  const known = await listeningUrl(stderrPath);
  if (known !== undefined) return known;
  try {
    process.kill(pid, 'SIGUSR1');
  } catch (error) {
    throw new InspectorError(`cannot signal pid ${pid}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const deadline = performance.now() + ACTIVATION_TIMEOUT_MS;
  while (performance.now() < deadline) {
    await sleep(ACTIVATION_POLL_MS);
    const url = await listeningUrl(stderrPath);
    if (url !== undefined) return url;
  }
  throw new InspectorError(
    `pid ${pid} printed no inspector URL to ${stderrPath} within ${ACTIVATION_TIMEOUT_MS} ms of SIGUSR1 ` +
      `(was it started with ${INSPECT_ON_SIGNAL_FLAG}, and does it leave SIGUSR1 to Node?)`,
  );
}

async function listeningUrl(stderrPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(stderrPath, 'utf8');
  } catch {
    return undefined;
  }
  return [...text.matchAll(LISTENING)].at(-1)?.[1];
}

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** One DevTools-protocol session: commands in, replies matched by id; events are ignored. */
export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedBecause: string | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => this.onMessage(event.data));
    socket.addEventListener('close', () => this.failAll('the inspector connection closed'));
    socket.addEventListener('error', () => this.failAll('the inspector connection failed'));
  }

  static async connect(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new InspectorError(`no inspector connection to ${url} in ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
        const settle = (error?: Error): void => {
          clearTimeout(timer);
          if (error === undefined) resolve();
          else reject(error);
        };
        socket.addEventListener('open', () => settle(), { once: true });
        socket.addEventListener('error', () => settle(new InspectorError(`cannot connect to the inspector at ${url}`)), { once: true });
      });
    } catch (error) {
      socket.close();
      throw error;
    }
    return new InspectorSession(socket);
  }

  /** Sends a command and resolves with its `result`; rejects with the protocol's error message. */
  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.closedBecause !== undefined) return Promise.reject(new InspectorError(`${method}: ${this.closedBecause}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new InspectorError(`${method}: no reply in ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result as T); // The caller names the protocol's result type.
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.failAll('the session was closed');
    this.socket.close();
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    const message = JSON.parse(data) as { id?: number; result?: unknown; error?: { message?: string } };
    if (message.id === undefined) return;
    const waiting = this.pending.get(message.id);
    if (waiting === undefined) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) waiting.reject(new InspectorError(message.error.message ?? JSON.stringify(message.error)));
    else waiting.resolve(message.result);
  }

  private failAll(reason: string): void {
    this.closedBecause ??= reason;
    for (const waiting of this.pending.values()) waiting.reject(new InspectorError(reason));
    this.pending.clear();
  }
}
