/** What crosses between the server and a hook worker thread. */
import type { HookCommand, PostLoginEvent } from './hook-api.js';

export type ToWorker = { type: 'run'; id: number; chain: string[]; event: PostLoginEvent } | { type: 'ping' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'load_failed'; path: string; message: string }
  | { type: 'done'; id: number; commands: HookCommand[] }
  | { type: 'failed'; id: number; path: string; message: string }
  | { type: 'warning'; message: string }
  | { type: 'pong' };
