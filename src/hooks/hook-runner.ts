/**
 * A few worker threads that run post-login hooks (hook-worker.ts). A run
 * that misses its time limit is answered `timeout` at once; if the worker
 * then fails to answer a ping it is stuck in a synchronous loop and is
 * replaced (its other runs time out too). A worker that dies is replaced.
 * The server thread never runs hook code.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { HookCommand, PostLoginEvent } from './hook-api.js';
import type { FromWorker, ToWorker } from './hook-messages.js';

export type HookRunOutcome =
  | { kind: 'done'; commands: HookCommand[] }
  | { kind: 'failed'; path: string; message: string }
  | { kind: 'timeout' };

/** A hook module that cannot be used: stops start-up with its path. */
export class HookLoadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`post-login hook ${path}: ${reason}`);
    this.name = 'HookLoadError';
  }
}

const PING_GRACE_MS = 250;
// Compiled in dist (.js); under tsx in development and tests (.ts), where the worker needs tsx's loader too.
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./hook-worker${OWN_EXTENSION}`, import.meta.url);

const MAX_LOAD_WAIT_MS = 5000;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Hooks get the server's environment (their own API keys live there) minus
 * Latchkey's secrets: the master key opens every sealed secret, and the
 * database and Redis URLs may carry passwords.
 */
function hookEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['LATCHKEY_MASTER_KEY', 'LATCHKEY_DATABASE_URL', 'LATCHKEY_REDIS_URL']) delete env[name];
  return env;
}

function startWorker(paths: string[]): Worker {
  const env = hookEnvironment();
  if (OWN_EXTENSION !== '.ts') return new Worker(WORKER_URL, { workerData: { paths }, env });
  // Node 20 does not hand tsx's loader to worker threads: register it inside the worker first.
  // Resolved here, not in the worker, whose bare imports would resolve from the process's working directory.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: { paths }, env });
}

export class HookRunner {
  private readonly slots: HookWorker[];
  private closed = false;

  private constructor(
    private readonly paths: string[],
    size: number,
    private readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: size }, () => this.spawn());
  }

  /** Starts the workers and waits until each has imported every module; a module that fails stops start-up. */
  static async start(paths: string[], size: number, logger: Logger): Promise<HookRunner> {
    const runner = new HookRunner(paths, size, logger);
    try {
      await Promise.all(runner.slots.map((slot) => slot.ready));
    } catch (err) {
      await runner.close();
      throw err;
    }
    return runner;
  }

  async run(chain: string[], event: PostLoginEvent, timeoutMs: number): Promise<HookRunOutcome> {
    // A worker under suspicion (a run of it timed out, no pong yet) gets nothing new unless every worker is;
    // a replacement still importing the modules neither, while another can answer (its start-up would count against timeoutMs).
    const trusted = this.slots.filter((s) => !s.suspect);
    const loaded = trusted.filter((s) => s.modulesLoaded);
    const candidates = loaded.length > 0 ? loaded : trusted.length > 0 ? trusted : this.slots;
    const slot = candidates.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    return slot.run(chain, event, timeoutMs, () => this.checkStuck(slot));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.terminate()));
  }

  private spawn(): HookWorker {
    return new HookWorker(this.paths, this.logger, (dead, why) => {
      if (this.closed) return;
      this.logger.error({ reason: why }, 'a post-login hook worker stopped; starting a new one (sign-ins it was serving failed closed)');
      const i = this.slots.indexOf(dead);
      if (i >= 0) this.slots[i] = this.spawn();
    });
  }

  /** After a timeout: a worker that cannot answer a ping is blocked by a hook and is replaced. */
  private checkStuck(slot: HookWorker): void {
    slot.suspect = true;
    void slot.ping(PING_GRACE_MS).then((alive) => {
      if (alive) slot.suspect = false;
      if (alive || this.closed) return;
      this.logger.error({}, 'a post-login hook blocked its worker thread past the time limit (a synchronous loop?); replacing the worker');
      void slot.terminate('blocked by a hook');
    });
  }
}

class HookWorker {
  readonly ready: Promise<void>;
  readonly pending = new Map<number, (outcome: HookRunOutcome) => void>();
  /** A run timed out and the worker has not answered a ping since. */
  suspect = false;
  /** Every module is imported. */
  modulesLoaded = false;
  private readonly worker: Worker;
  private readonly pongs: Array<() => void> = [];
  private nextId = 1;
  private stopped = false;

  constructor(paths: string[], logger: Logger, onDeath: (self: HookWorker, why: string) => void) {
    this.worker = startWorker(paths);
    this.worker.unref();
    let loaded: () => void = () => undefined;
    let failed: (err: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      failed = reject;
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          this.modulesLoaded = true;
          loaded();
          break;
        case 'load_failed':
          failed(new HookLoadError(message.path, message.message));
          break;
        case 'done':
          this.settle(message.id, { kind: 'done', commands: message.commands });
          break;
        case 'failed':
          this.settle(message.id, { kind: 'failed', path: message.path, message: message.message });
          break;
        case 'warning':
          logger.warn({}, message.message);
          break;
        case 'pong':
          this.pongs.shift()?.();
          break;
      }
    });
    this.worker.on('error', (err) => {
      failed(new HookLoadError('(worker)', err.message));
      this.failAll(`the hook worker failed: ${err.message}`);
    });
    this.worker.on('exit', (code) => {
      const why = `exit code ${code}`;
      failed(new HookLoadError('(worker)', `stopped before loading the hooks (${why})`));
      this.failAll(`the hook worker stopped (${why}); did a hook call process.exit()?`);
      if (!this.stopped) onDeath(this, why);
      this.stopped = true;
    });
  }

  async run(chain: string[], event: PostLoginEvent, timeoutMs: number, onTimeout: () => void): Promise<HookRunOutcome> {
    if (this.stopped) return { kind: 'failed', path: '(worker)', message: 'the hook worker is restarting' };
    // A replacement worker still importing the modules: the hooks' time limit starts once it can run them.
    if (!this.modulesLoaded) {
      const loading = await Promise.race([
        this.ready.then(
          () => true,
          () => false,
        ),
        delay(MAX_LOAD_WAIT_MS).then(() => false),
      ]);
      if (!loading)
        return { kind: 'failed', path: '(worker)', message: `the hook worker did not load the hooks within ${MAX_LOAD_WAIT_MS} ms` };
    }
    const id = this.nextId++;
    return new Promise<HookRunOutcome>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        resolve({ kind: 'timeout' });
        onTimeout();
      }, timeoutMs);
      this.pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      this.worker.postMessage({ type: 'run', id, chain, event } satisfies ToWorker);
    });
  }

  ping(graceMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      this.pongs.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.worker.postMessage({ type: 'ping' } satisfies ToWorker);
    });
  }

  async terminate(why?: string): Promise<void> {
    // Runs still waiting on a blocked worker were going to miss their deadline anyway.
    if (why !== undefined) this.failAll(`the hook worker was ${why}`, { kind: 'timeout' });
    await this.worker.terminate();
  }

  private settle(id: number, outcome: HookRunOutcome): void {
    const resolve = this.pending.get(id);
    this.pending.delete(id);
    resolve?.(outcome);
  }

  private failAll(message: string, outcome?: HookRunOutcome): void {
    for (const [id, resolve] of this.pending) {
      this.pending.delete(id);
      resolve(outcome ?? { kind: 'failed', path: '(worker)', message });
    }
  }
}
