/**
 * Latchkey benchmark driver: starts a real server on a throw-away SQLite
 * config, measures the raw cost of argon2id and JWT signing on this machine,
 * then drives the token endpoint's grants over loopback and reports
 * throughput, latency and server CPU per request.
 *
 *   npm run bench -- [--quick | --duration N] [--scenario NAME] [--json FILE] [--tsx]
 *
 * The report goes to stdout; progress and diagnostics go to stderr.
 */
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, UsageError, USAGE, type BenchOptions } from './lib/args.js';
import {
  CLIENT_ID,
  ES256_AUDIENCE,
  prepareEnvironment,
  RS256_AUDIENCE,
  TENANT,
  UNPROTECTED_TENANT, HOOKS_TENANT,
  USERNAME,
  type BenchEnvironment,
} from './lib/environment.js';
import { describe, mergeRounds, runScenario, type RunContext, type ScenarioResult, type ScenarioSpec } from './lib/load.js';
import { clockTicksPerSecond } from './lib/proc-cpu.js';
import { measureRawRates } from './lib/raw-rates.js';
import {
  benchCommandLine,
  describeMachine,
  passwordRatios,
  renderMarkdown,
  writeJson,
  type BenchReport,
} from './lib/report.js';
import { allScenarios, selectScenarios, type BenchCredentials } from './lib/scenarios.js';
import { buildServer, ServerStartError, startServer, waitUntilReady, type ServerProcess } from './lib/server.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  let scenarios: ScenarioSpec[];
  try {
    options = parseBenchArgs(argv);
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    // Placeholder credentials: selection only needs the names, and a typo
    // should fail before minutes of building and serving.
    scenarios = selectScenarios(allScenarios(credentialsFor(undefined)), options.scenarioSelectors);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const env = await prepareEnvironment();
  const names = new Set(scenarios.map((s) => s.name));
  const selected = allScenarios(credentialsFor(env)).filter((s) => names.has(s.name));
  return runWithServer(options, env, selected);
}

/** Starts the server, benchmarks, always stops it; keeps the temp dir only when something went wrong. */
async function runWithServer(options: BenchOptions, env: BenchEnvironment, scenarios: ScenarioSpec[]): Promise<number> {
  let server: ServerProcess | undefined;
  let exitCode = EXIT_FAILED;
  const interrupted = new AbortController();
  const onSigint = (): void => interrupted.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    if (!options.useTsx) buildServer(REPO_ROOT);
    server = startServer(REPO_ROOT, env, options.useTsx);
    process.stderr.write(`bench: waiting for ${env.origin}/readyz (pid ${server.pid})\n`);
    await waitUntilReady(server, env.origin);
    exitCode = await benchmark(options, env, server, scenarios, AbortSignal.any([server.exited, interrupted.signal]));
  } catch (error) {
    if (!(error instanceof ServerStartError)) throw error;
    process.stderr.write(`bench: the server failed to start: ${error.message}\n`);
  } finally {
    process.off('SIGINT', onSigint);
    await server?.stop();
    await cleanUp(env, exitCode);
  }
  return exitCode;
}

async function benchmark(
  options: BenchOptions,
  env: BenchEnvironment,
  server: ServerProcess,
  scenarios: readonly ScenarioSpec[],
  signal: AbortSignal,
): Promise<number> {
  const startedAt = new Date().toISOString();
  process.stderr.write('bench: measuring raw argon2id and JWT sign rates (server idle)\n');
  const raw = await measureRawRates(options.durationSeconds);
  const ctx: RunContext = {
    origin: env.origin,
    tokenPath: `/${TENANT}/oauth/token`,
    serverPid: server.pid,
    ticksPerSecond: clockTicksPerSecond(),
    durationSeconds: options.durationSeconds,
    signal,
  };
  const results = await runAll(scenarios, ctx, options.rounds);
  const report: BenchReport = {
    startedAt,
    command: benchCommandLine(),
    serverCommand: server.commandLine,
    machine: describeMachine(),
    durationSeconds: options.durationSeconds,
    storage: 'sqlite',
    nodes: 1,
    raw,
    scenarios: results,
    passwordRatios: passwordRatios(results, raw),
  };
  process.stdout.write(`${renderMarkdown(report)}\n`);
  if (options.jsonPath !== undefined) await writeJson(resolve(options.jsonPath), report);
  return reportAborts(server, signal);
}

async function runAll(scenarios: readonly ScenarioSpec[], ctx: RunContext, rounds: number): Promise<ScenarioResult[]> {
  const byScenario = new Map<string, ScenarioResult[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const spec of scenarios) {
      if (ctx.signal.aborted) break;
      const label = rounds > 1 ? `, round ${round} of ${rounds}` : '';
      process.stderr.write(`bench: ${spec.name} (${spec.connections} connections, ${ctx.durationSeconds} s${label})\n`);
      const result = await runScenario(spec, ctx);
      // Print problems as they happen too: a long run should not hide them until the end.
      if (result.setupError !== undefined) process.stderr.write(`bench:   ${result.setupError}\n`);
      if (result.firstError !== undefined) process.stderr.write(`bench:   first error: ${result.firstError}\n`);
      byScenario.set(spec.name, [...(byScenario.get(spec.name) ?? []), result]);
    }
  }
  return [...byScenario.values()].map(mergeRounds);
}

/** A server that died mid-run makes the numbers meaningless: say why and fail. */
function reportAborts(server: ServerProcess, signal: AbortSignal): number {
  if (server.exited.aborted) {
    process.stderr.write(`bench: the server stopped during the run; results are incomplete\n${server.logs()}\n`);
    return EXIT_FAILED;
  }
  if (signal.aborted) {
    process.stderr.write('bench: interrupted; results are incomplete\n');
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

function credentialsFor(env: BenchEnvironment | undefined): BenchCredentials {
  return {
    clientId: CLIENT_ID,
    clientSecret: env?.clientSecret ?? '',
    username: USERNAME,
    password: env?.password ?? '',
    rs256Audience: RS256_AUDIENCE,
    es256Audience: ES256_AUDIENCE,
    unprotectedTenant: UNPROTECTED_TENANT,
    hooksTenant: HOOKS_TENANT,
  };
}

async function cleanUp(env: BenchEnvironment, exitCode: number): Promise<void> {
  if (exitCode === EXIT_OK) {
    await rm(env.dir, { recursive: true, force: true });
  } else {
    process.stderr.write(`bench: kept ${env.dir} (config, database, server logs) for inspection\n`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : describe(error)}\n`);
    process.exit(EXIT_FAILED);
  },
);
