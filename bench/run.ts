/**
 * Latchkey benchmark driver: starts a real server (or several nodes over one
 * PostgreSQL database) on a throw-away config, measures the raw cost of
 * argon2id and JWT signing on this machine, then drives the token
 * endpoint's grants over loopback and reports throughput, latency and
 * server CPU per request.
 *
 *   npm run bench -- [--quick | --duration N] [--scenario NAME] [--json FILE] [--tsx]
 *                    [--db sqlite|postgres] [--redis URL] [--nodes N] [--peer] [--rounds N]
 *
 * With --peer (issue #13) an in-memory @node-oauth/oauth2-server peer
 * (bench/peer/) takes the same load right before or after Latchkey, and the
 * report ends with the ratios and the issue's targets (lib/side-by-side.ts).
 *
 * The report goes to stdout; progress and diagnostics go to stderr.
 *
 * --profile DIR then runs each scenario once more (per round) with the
 * server's main thread under the V8 profiler and its threads' CPU read from
 * /proc, and writes a .cpuprofile, .md and .json per scenario
 * (lib/profile-pass.ts); the report's figures stay free of its cost.
 */
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, UsageError, USAGE, type BenchOptions } from './lib/args.js';
import {
  CLIENT_ID,
  ES256_AUDIENCE,
  prepareEnvironment,
  RS256_AUDIENCE,
  TENANT,
  UNPROTECTED_TENANT,
  HOOKS_TENANT,
  MANAGEMENT_TENANT,
  DIRECTORY,
  USERNAME,
  type BenchEnvironment,
} from './lib/environment.js';
import { INSPECT_ON_SIGNAL_FLAG } from './lib/inspector.js';
import { profileScenarios } from './lib/profile-pass.js';
import { describe, mergeRounds, runScenario, type RunContext, type ScenarioResult, type ScenarioSpec } from './lib/load.js';
import { clockTicksPerSecond } from './lib/proc-cpu.js';
import { measureRawRates, type RawRates } from './lib/raw-rates.js';
import { createScratchDatabase, PostgresBackendCpu, ScratchDatabaseError, type ScratchDatabase } from './lib/postgres.js';
import {
  benchCommandLine,
  describeHost,
  describeMachine,
  passwordRatios,
  renderMarkdown,
  totalDoubleSpent,
  writeJson,
  type BenchReport,
} from './lib/report.js';
import { allScenarios, selectScenarios, type BenchCredentials } from './lib/scenarios.js';
import { buildServer, ServerStartError, startNodes, type ServerProcess } from './lib/server.js';
import { PEER_TOKEN_PATH } from './peer/contract.js';
import { PeerStartError, startPeer, type PeerProcess } from './lib/peer.js';
import {
  mergedLatchkeyResults,
  peerRunProblems,
  planSideBySide,
  runSideBySide,
  summarizeSideBySide,
  type SideBySideReport,
} from './lib/side-by-side.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_SETTLE_MS = 250;

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
  const names = new Set(scenarios.map((s) => s.name));
  return runWithServers(options, names);
}

/** What has to be undone at the end, filled in as it is made. */
interface Resources {
  scratch: ScratchDatabase | undefined;
  env: BenchEnvironment | undefined;
  readonly servers: ServerProcess[];
  postgresCpu: PostgresBackendCpu | undefined;
  /** --peer: the in-memory peer (issue #13). */
  peer: PeerProcess | undefined;
}

/**
 * Builds, makes the scratch database (PostgreSQL) and the config files,
 * starts every node, benchmarks; always stops the nodes and drops the
 * database, and keeps the temp dir only when something went wrong.
 */
async function runWithServers(options: BenchOptions, scenarioNames: ReadonlySet<string>): Promise<number> {
  const resources: Resources = { scratch: undefined, env: undefined, servers: [], postgresCpu: undefined, peer: undefined };
  let exitCode = EXIT_FAILED;
  const interrupted = new AbortController();
  // SIGTERM too: a plain `kill` of the bench must not orphan the nodes or the scratch database.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted.signal.aborted) {
      process.stderr.write(`bench: ${signal} again; still stopping the servers and dropping the scratch database\n`);
      return;
    }
    interrupted.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (!options.useTsx) buildServer(REPO_ROOT);
    // The build blocks the event loop, so a Ctrl-C during it is only seen now.
    if (interrupted.signal.aborted) {
      process.stderr.write('bench: interrupted during the build\n');
      return exitCode;
    }
    if (options.adminDatabaseUrl !== undefined) {
      resources.scratch = await createScratchDatabase(options.adminDatabaseUrl);
      process.stderr.write(`bench: created scratch database ${resources.scratch.description} (dropped at the end)\n`);
    }
    const env = await prepareEnvironment({
      nodes: options.nodes,
      databaseUrl: resources.scratch?.url,
      redisUrl: options.redisUrl,
    });
    resources.env = env;
    const nodeFlags = options.profileDir === undefined ? [] : [INSPECT_ON_SIGNAL_FLAG];
    await startNodes(REPO_ROOT, env, options.useTsx, resources.servers, interrupted.signal, nodeFlags);
    if (interrupted.signal.aborted) {
      process.stderr.write('bench: interrupted before the servers were ready\n');
      return exitCode;
    }
    if (resources.scratch !== undefined && options.adminDatabaseUrl !== undefined) {
      resources.postgresCpu = await openBackendCpu(options.adminDatabaseUrl, resources.scratch.name);
    }
    const scenarios = allScenarios(credentialsFor(env)).filter((s) => scenarioNames.has(s.name));
    if (options.peer) resources.peer = await startPeerFor(env, scenarios, interrupted.signal);
    const signal = AbortSignal.any([...everyServer(resources).map((server) => server.exited), interrupted.signal]);
    exitCode = await benchmark(options, env, resources, scenarios, signal);
    if (exitCode === EXIT_OK && options.profileDir !== undefined) {
      exitCode = await profilePass(options.profileDir, options, resources, scenarios, signal);
    }
  } catch (error) {
    if (error instanceof ScratchDatabaseError) {
      process.stderr.write(`bench: ${error.message}\n`);
    } else if (error instanceof ServerStartError) {
      const what = options.nodes === 1 ? 'the server' : 'a node';
      process.stderr.write(`bench: ${what} failed to start: ${error.message}\n`);
    } else if (error instanceof PeerStartError) {
      const line = interrupted.signal.aborted ? 'interrupted before the peer was ready' : `the peer failed to start: ${error.message}`;
      process.stderr.write(`bench: ${line}\n`);
    } else {
      throw error;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await releaseAll(resources, exitCode);
  }
  return exitCode;
}

/** The backends' CPU is extra information: without it the run goes on and the report says n/a. */
async function openBackendCpu(adminUrl: string, database: string): Promise<PostgresBackendCpu | undefined> {
  try {
    return await PostgresBackendCpu.open(adminUrl, database, clockTicksPerSecond());
  } catch (error) {
    process.stderr.write(`bench: cannot watch PostgreSQL's backends (${describe(error)}); their CPU is left out\n`);
    return undefined;
  }
}

/**
 * --profile: the extra pass, once the report is out and only after a clean
 * run, on the same servers (lib/profile-pass.ts). EXIT_FAILED if a window
 * could not be profiled or a server died.
 */
async function profilePass(
  dir: string,
  options: BenchOptions,
  resources: Resources,
  scenarios: readonly ScenarioSpec[],
  signal: AbortSignal,
): Promise<number> {
  const ctx: RunContext = {
    origins: resources.servers.map((server) => server.origin),
    tokenPath: `/${TENANT}/oauth/token`,
    serverPids: resources.servers.map((server) => server.pid),
    ticksPerSecond: clockTicksPerSecond(),
    postgres: resources.postgresCpu,
    durationSeconds: options.durationSeconds,
    signal,
  };
  const profileOptions = { dir: resolve(dir), rounds: options.rounds, appRoot: REPO_ROOT, ticksPerSecond: ctx.ticksPerSecond };
  const profiled = await profileScenarios(scenarios, ctx, resources.servers, profileOptions);
  const aborted = reportAborts(resources.servers, signal);
  return profiled ? aborted : EXIT_FAILED;
}

async function benchmark(
  options: BenchOptions,
  env: BenchEnvironment,
  resources: Resources,
  scenarios: readonly ScenarioSpec[],
  signal: AbortSignal,
): Promise<number> {
  const servers = resources.servers;
  const startedAt = new Date().toISOString();
  process.stderr.write('bench: measuring raw argon2id and JWT sign rates (server idle)\n');
  const raw = await measureRawRates(options.durationSeconds);
  const ctx: RunContext = {
    origins: servers.map((server) => server.origin),
    tokenPath: `/${TENANT}/oauth/token`,
    serverPids: servers.map((server) => server.pid),
    ticksPerSecond: clockTicksPerSecond(),
    postgres: resources.postgresCpu,
    durationSeconds: options.durationSeconds,
    signal,
  };
  const peer = resources.peer;
  const sideBySide = peer === undefined ? undefined : await runBesidePeer(peer, env, scenarios, ctx, options.rounds, raw);
  const results = sideBySide === undefined ? await runAll(scenarios, ctx, options.rounds) : mergedLatchkeyResults(sideBySide.rounds);
  const doubleSpent = totalDoubleSpent(results);
  const report: BenchReport = {
    startedAt,
    command: benchCommandLine(),
    serverCommand: servers[0]!.commandLine,
    machine: describeMachine(),
    durationSeconds: options.durationSeconds,
    storage: options.db,
    database: resources.scratch?.description,
    redis: options.redisUrl === undefined ? undefined : describeHost(options.redisUrl),
    nodes: servers.length,
    publicUrl: env.origin,
    raw,
    scenarios: results,
    passwordRatios: passwordRatios(results, raw),
    doubleSpentRefreshTokens: doubleSpent,
    sideBySide,
  };
  process.stdout.write(`${renderMarkdown(report)}\n`);
  if (options.jsonPath !== undefined) await writeJson(resolve(options.jsonPath), report);
  // A server killed mid-run resets its connections a few ms before its exit
  // event lands; when every user gives up at once (refresh chains cannot
  // recover), the run ends inside that gap and the death would go unseen.
  await sleep(EXIT_SETTLE_MS);
  const aborted = reportAborts(everyServer(resources), signal);
  if (doubleSpent !== undefined && doubleSpent > 0) {
    process.stderr.write(`bench: ${doubleSpent} double-spent refresh token(s): rotation is broken\n`);
    return EXIT_FAILED;
  }
  // The targets are information; a peer run that failed leaves nothing to compare with.
  const peerProblems = sideBySide === undefined ? [] : peerRunProblems(sideBySide.rounds);
  for (const problem of peerProblems) process.stderr.write(`bench: the peer's run failed: ${problem}\n`);
  return peerProblems.length > 0 ? EXIT_FAILED : aborted;
}

/** --peer: starts the peer when a selected scenario has a counterpart on it (side-by-side.ts). */
async function startPeerFor(
  env: BenchEnvironment,
  scenarios: readonly ScenarioSpec[],
  signal: AbortSignal,
): Promise<PeerProcess | undefined> {
  if (!planSideBySide(scenarios, allScenarios(credentialsFor(env))).some((slot) => slot.peer !== undefined)) {
    process.stderr.write('bench: --peer: no selected scenario runs on the peer (it serves password, refresh and client-credentials)\n');
    return undefined;
  }
  const { clientId, clientSecret, username, password } = credentialsFor(env);
  const peer = await startPeer(REPO_ROOT, env.dir, { clientId, clientSecret, username, password }, signal);
  process.stderr.write(`bench: the peer (${peer.library}) is listening on ${peer.origin} (pid ${peer.pid})\n`);
  return peer;
}

/** Latchkey and the peer, one after the other per scenario; Latchkey's rounds feed the normal report. */
async function runBesidePeer(
  peer: PeerProcess,
  env: BenchEnvironment,
  scenarios: readonly ScenarioSpec[],
  ctx: RunContext,
  rounds: number,
  raw: RawRates,
): Promise<SideBySideReport> {
  const plan = planSideBySide(scenarios, allScenarios(credentialsFor(env)));
  const peerCtx: RunContext = { ...ctx, origins: [peer.origin], tokenPath: PEER_TOKEN_PATH, serverPids: [peer.pid], postgres: undefined };
  const results = await runSideBySide(plan, ctx, peerCtx, rounds);
  return summarizeSideBySide({ library: peer.library, command: peer.commandLine, uvThreadpoolSize: peer.uvThreadpoolSize }, results, raw);
}

/** Latchkey's nodes, then the peer if there is one: what is watched for an exit and stopped at the end. */
function everyServer(resources: Resources): ServerProcess[] {
  return resources.peer === undefined ? resources.servers : [...resources.servers, resources.peer];
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

/** A server that died mid-run makes the numbers meaningless: say which and why, and fail. */
function reportAborts(servers: readonly ServerProcess[], signal: AbortSignal): number {
  const stopped = servers.filter((server) => server.exited.aborted);
  if (stopped.length > 0) {
    for (const server of stopped) {
      const who = server.label === 'server' ? 'the server' : server.label;
      process.stderr.write(`bench: ${who} stopped during the run; results are incomplete\n${server.logs()}\n`);
    }
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
    management: {
      database: env?.database ?? '',
      tenant: MANAGEMENT_TENANT,
      connection: DIRECTORY,
      basePath: `/${MANAGEMENT_TENANT}/api/v2`,
      audience: `${env?.origin ?? ''}/${MANAGEMENT_TENANT}/api/v2/`,
      clientId: CLIENT_ID,
      clientSecret: env?.clientSecret ?? '',
    },
  };
}

/**
 * Stops every node, then drops the scratch database (always, even after a
 * failure: the kept temp dir holds the logs a failure needs, and databases
 * left behind would pile up on a shared PostgreSQL), then removes the temp
 * dir unless the run failed. A failed drop does not skip the rest.
 */
async function releaseAll(resources: Resources, exitCode: number): Promise<void> {
  await Promise.all(everyServer(resources).map((server) => server.stop()));
  await resources.postgresCpu?.close();
  if (resources.scratch !== undefined) {
    try {
      await resources.scratch.drop();
    } catch (error) {
      process.stderr.write(
        `bench: could not drop scratch database ${resources.scratch.description}: ${describe(error)}; ` +
          `drop it by hand: drop database ${resources.scratch.name} with (force)\n`,
      );
    }
  }
  const env = resources.env;
  if (env === undefined) return;
  if (exitCode === EXIT_OK) {
    await rm(env.dir, { recursive: true, force: true });
  } else {
    const latchkeyFiles = resources.scratch === undefined ? 'config, database, server logs' : 'configs, node logs';
    const contents = resources.peer === undefined ? latchkeyFiles : `${latchkeyFiles}, peer.*.log`;
    process.stderr.write(`bench: kept ${env.dir} (${contents}) for inspection\n`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : describe(error)}\n`);
    process.exit(EXIT_FAILED);
  },
);
