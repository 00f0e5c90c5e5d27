/**
 * Runs the `latchkey` CLI as a real child process (through tsx, or the
 * built dist/), for the CLI and operations suites: exit codes, stdout and
 * stderr exactly as an operator sees them. Waiting is always bounded by a
 * deadline and driven by what the process prints or serves, never a sleep.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** An absolute loader URL, so children whose cwd is a temp dir still find tsx. */
export const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
export const CLI_SOURCE = join(REPO_ROOT, 'src/cli/main.ts');
export const CLI_DIST = join(REPO_ROOT, 'dist/cli/bin.cjs');

/** `node --import tsx src/cli/main.ts …` */
export function tsxCliArgs(args: string[]): string[] {
  return ['--import', TSX_LOADER, CLI_SOURCE, ...args];
}

export interface ProcessOptions {
  cwd?: string;
  /** Added to a copy of this process's environment without any LATCHKEY_* variable. */
  env?: Record<string, string>;
  /** Written to standard input, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATCHKEY_')) env[key] = value;
  return { ...env, ...extra };
}

/** Runs a command to completion. */
export function runProcess(command: string, args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: childEnv(options.env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `latchkey …` through tsx, to completion. */
export function runCli(args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, tsxCliArgs(args), options);
}

/** A long-running child (a server) whose output is collected line by line. */
export class RunningProcess {
  readonly stdoutLines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly waiters = new Set<() => void>();
  private partial = '';

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.stdoutLines.push(...parts);
      this.notify();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        if (this.partial !== '') this.stdoutLines.push(this.partial);
        this.partial = '';
        this.exitInfo = { code, signal };
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  static start(command: string, args: string[], options: ProcessOptions = {}): RunningProcess {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: childEnv(options.env), stdio: 'pipe' });
    const running = new RunningProcess(child);
    child.stdin.end(options.input ?? '');
    return running;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Everything printed so far, for assertion messages. */
  describe(): string {
    return `exit ${JSON.stringify(this.exitInfo)}\nstdout:\n${this.stdoutLines.join('\n')}${this.partial}\nstderr:\n${this.stderr}`;
  }

  /** Resolves with the first stdout line matching, waiting at most `timeoutMs`; fails if the process exits first. */
  async waitForLine(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdoutLines.find(match);
      if (found !== undefined) return found;
      if (this.hasExited) throw new Error(`the process exited before printing the expected line\n${this.describe()}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no expected line within ${timeoutMs} ms\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, remaining);
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  /** Log lines (JSON) whose `msg` is exactly `message`. */
  logsWithMessage(message: string): Array<Record<string, unknown>> {
    return this.stdoutLines.flatMap((line) => {
      const parsed = parseJsonLine(line);
      return parsed && parsed.msg === message ? [parsed] : [];
    });
  }

  /** Ends the process if it is still running (test clean-up). */
  async stop(): Promise<void> {
    if (!this.hasExited) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `url` until it answers 200, at most `timeoutMs`; stops early if `process` exits. */
export async function waitForOk(url: string, timeoutMs = 20_000, process?: RunningProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (process?.hasExited) throw new Error(`the server exited before ${url} answered\n${process.describe()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    // Polling interval, not an assertion: the deadline bounds the wait.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})${process ? `\n${process.describe()}` : ''}`);
}

/** Writes a configuration object as YAML, as an operator would. */
export function writeYamlConfig(dir: string, config: unknown, name = 'latchkey.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

/** True when the text looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}

/**
 * `latchkey …` as an operator runs it against a running test server's own
 * SQLite database (`{dir}/latchkey.db`), with the same tenants and master
 * key; each call returns the finished process.
 */
export function operatorCli(dir: string, tenants: unknown[], masterKey: string): (args: string[]) => Promise<ProcessResult> {
  const configFile = writeYamlConfig(
    dir,
    { public_url: 'http://127.0.0.1:3999', database: `sqlite:${join(dir, 'latchkey.db')}`, log_level: 'warn', tenants },
    'operator.yaml',
  );
  return (args) => runCli([...args, '--config', configFile], { env: { LATCHKEY_MASTER_KEY: masterKey } });
}

/** The indented lines (four spaces) under the first line of `stdout` that starts with `heading`, trimmed: one section of a report. */
export function outputSection(stdout: string, heading: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith(heading));
  if (start < 0) return [];
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('    ')) break;
    body.push(line.trim());
  }
  return body;
}
