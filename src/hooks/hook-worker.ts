/**
 * Runs post-login hooks inside a worker thread, so a hook that loops, throws
 * asynchronously or calls process.exit() costs its own sign-in, never the
 * server. Modules are imported once; each run calls the chain in order with a
 * recording `api`, stops at the first deny, and posts back the commands.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { recordingApi, type HookCommand, type PostLoginEvent } from './hook-api.js';
import type { FromWorker, ToWorker } from './hook-messages.js';

type OnExecutePostLogin = (event: PostLoginEvent, api: ReturnType<typeof recordingApi>) => unknown;

const port = parentPort;
if (!port) throw new Error('hook-worker.ts runs only as a worker thread');
const post = (message: FromWorker) => port.postMessage(message);
const modules = new Map<string, OnExecutePostLogin>();

process.on('unhandledRejection', (reason) => {
  post({
    type: 'warning',
    message: `a hook left a promise rejected without handling it: ${String((reason as Error)?.message ?? reason).slice(0, 500)}`,
  });
});

async function load(paths: string[]): Promise<void> {
  for (const path of paths) {
    let exported: unknown;
    try {
      exported = ((await import(pathToFileURL(path).href)) as { onExecutePostLogin?: unknown }).onExecutePostLogin;
    } catch (err) {
      post({ type: 'load_failed', path, message: String((err as Error)?.message ?? err).slice(0, 1000) });
      return;
    }
    if (typeof exported !== 'function') {
      post({ type: 'load_failed', path, message: 'does not export an async function onExecutePostLogin(event, api)' });
      return;
    }
    modules.set(path, exported as OnExecutePostLogin);
  }
  post({ type: 'ready' });
}

async function run(id: number, chain: string[], event: PostLoginEvent): Promise<void> {
  const commands: HookCommand[] = [];
  const api = recordingApi(commands);
  for (const path of chain) {
    const hook = modules.get(path);
    if (!hook) {
      post({ type: 'failed', id, path, message: 'module not loaded' });
      return;
    }
    try {
      // Each hook gets its own copy of the event: one hook cannot change what the next one is told.
      await hook(structuredClone(event), api);
    } catch (err) {
      post({ type: 'failed', id, path, message: String((err as Error)?.message ?? err).slice(0, 500) });
      return;
    }
    if (commands.some((c) => c.op === 'deny')) break;
  }
  post({ type: 'done', id, commands });
}

// Runs can arrive while the modules are still loading (a replacement worker): they wait for them.
const loaded = load((workerData as { paths: string[] }).paths);

port.on('message', (message: ToWorker) => {
  if (message.type === 'ping') post({ type: 'pong' });
  else void loaded.then(() => run(message.id, message.chain, message.event));
});
