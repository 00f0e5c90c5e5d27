import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What the command line asks for, already validated. */
export interface BenchOptions {
  /** Length of each scenario's measured window. */
  readonly durationSeconds: number;
  /** Run the server from src/ through tsx instead of building dist/. */
  readonly useTsx: boolean;
  /** Scenario selectors (names or group prefixes); empty means all. */
  readonly scenarioSelectors: readonly string[];
  /** Runs of the selected scenarios, round-robin; each scenario's rounds are merged into one row. */
  readonly rounds: number;
  /** Where to write the results as JSON, if anywhere. */
  readonly jsonPath: string | undefined;
  /** Where --profile writes each scenario's CPU profile and summaries (an extra, profiled pass); undefined: no profiling. */
  readonly profileDir: string | undefined;
  /** Storage backend; postgres works in a scratch database created and dropped by the bench. */
  readonly db: 'sqlite' | 'postgres';
  /**
   * PostgreSQL URL the scratch database is created through (its own
   * database is only connected to for `create database` / `drop database`).
   * Set exactly when `db` is postgres.
   */
  readonly adminDatabaseUrl: string | undefined;
  /** `redis:` for every node's config; none by default. */
  readonly redisUrl: string | undefined;
  /** `latchkey serve` processes sharing the load (more than one needs PostgreSQL). */
  readonly nodes: number;
  /** Side by side (issue #13): the same load on an in-memory @node-oauth/oauth2-server peer too (side-by-side.ts). */
  readonly peer: boolean;
  readonly help: boolean;
}

/** Where the bench looks for PostgreSQL and Redis when the command line does not say. */
export interface BenchEnv {
  readonly LATCHKEY_BENCH_DATABASE_URL?: string | undefined;
  readonly LATCHKEY_TEST_DATABASE_URL?: string | undefined;
  readonly LATCHKEY_BENCH_REDIS_URL?: string | undefined;
}

/** A command-line mistake: printed with the usage text, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const DEFAULT_DURATION_SECONDS = 10;
export const QUICK_DURATION_SECONDS = 3;

export const USAGE = `Usage: npm run bench -- [options]

  --duration N       seconds per scenario (default ${DEFAULT_DURATION_SECONDS})
  --quick            ${QUICK_DURATION_SECONDS} s per scenario
  --scenario NAME    run only this scenario or group (repeatable, or comma-separated)
  --rounds N         run the selection N times round-robin and merge each scenario's rounds
                     (A B A B …: slow drift of the machine then affects every scenario alike)
  --json FILE        also write the results as JSON
  --profile DIR      then run each scenario (each round) once more with the server profiled, outside
                     the report's figures: DIR/<scenario>.cpuprofile (main thread, a flame graph in
                     Chrome DevTools or speedscope), CPU per thread, and a summary in DIR/<scenario>.md
                     and .json ([-round-N] with --rounds, [-node-N] with --nodes)
  --tsx              run the server from src/ with tsx instead of building dist/
  --db sqlite|postgres
                     storage (default sqlite). postgres: a scratch database latchkey_bench_<random>,
                     created through LATCHKEY_BENCH_DATABASE_URL (else LATCHKEY_TEST_DATABASE_URL,
                     e.g. postgres://postgres@127.0.0.1:5432/test) and dropped at the end
  --redis URL        put redis: URL in the config (default: LATCHKEY_BENCH_REDIS_URL, else none)
  --nodes N          latchkey serve processes behind one public_url (default 1; more needs
                     --db postgres); each virtual user's requests go round-robin over them
  --peer             side by side (issue #13): each password, refresh and client-credentials scenario
                     also runs against an in-memory @node-oauth/oauth2-server peer (bench/peer/), right
                     after Latchkey in odd rounds and right before it in even ones; prints the ratios
                     (ES256 against the peer's RS256) and issue #13's targets, per round. Latchkey's
                     CPU is its nodes' only (PostgreSQL's backends are not counted)
  -h, --help         show this text`;

const OPTION_SPEC = {
  duration: { type: 'string' },
  quick: { type: 'boolean', default: false },
  scenario: { type: 'string', multiple: true, default: [] as string[] },
  json: { type: 'string' },
  profile: { type: 'string' },
  rounds: { type: 'string', default: '1' },
  tsx: { type: 'boolean', default: false },
  db: { type: 'string', default: 'sqlite' },
  redis: { type: 'string' },
  nodes: { type: 'string', default: '1' },
  peer: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export function parseBenchArgs(argv: readonly string[], env: BenchEnv = process.env): BenchOptions {
  const { values } = parseStrict(argv);
  const db = resolveDb(values.db);
  const nodes = resolveNodes(values.nodes, db);
  return {
    durationSeconds: resolveDuration(values.duration, values.quick),
    useTsx: values.tsx,
    scenarioSelectors: values.scenario.flatMap(splitList),
    rounds: resolveRounds(values.rounds),
    jsonPath: values.json,
    profileDir: resolveProfileDir(values.profile),
    db,
    // --help must work without PostgreSQL configured.
    adminDatabaseUrl: db === 'postgres' && !values.help ? resolveAdminDatabaseUrl(env) : undefined,
    redisUrl: resolveRedis(values.redis, env),
    nodes,
    peer: values.peer,
    help: values.help,
  };
}

function parseStrict(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTION_SPEC, strict: true, allowPositionals: false });
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or
    // malformed flags; they are the user's mistake, not a bug here.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function resolveDb(db: string): 'sqlite' | 'postgres' {
  if (db === 'sqlite' || db === 'postgres') return db;
  throw new UsageError(`--db ${db}: expected sqlite or postgres`);
}

/** More than one node on SQLite would be several writers on one file, which Latchkey does not support. */
function resolveNodes(nodes: string, db: 'sqlite' | 'postgres'): number {
  if (!/^[1-9][0-9]?$/.test(nodes)) throw new UsageError(`--nodes ${nodes}: expected a whole number from 1 to 99`);
  const count = Number(nodes);
  if (count > 1 && db !== 'postgres') {
    throw new UsageError(`--nodes ${nodes}: several nodes share one database, which needs --db postgres`);
  }
  return count;
}

/** The bench's own variable first, so a bench machine can point it away from the test database. */
function resolveAdminDatabaseUrl(env: BenchEnv): string {
  const [name, url] = env.LATCHKEY_BENCH_DATABASE_URL
    ? ['LATCHKEY_BENCH_DATABASE_URL', env.LATCHKEY_BENCH_DATABASE_URL]
    : ['LATCHKEY_TEST_DATABASE_URL', env.LATCHKEY_TEST_DATABASE_URL];
  if (!url) {
    throw new UsageError(
      '--db postgres: set LATCHKEY_BENCH_DATABASE_URL (or LATCHKEY_TEST_DATABASE_URL) to a PostgreSQL URL ' +
        'the bench may create and drop a scratch database through, e.g. postgres://postgres@127.0.0.1:5432/test',
    );
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`${name}: expected a postgres:// URL`);
  return url;
}

function resolveRedis(flag: string | undefined, env: BenchEnv): string | undefined {
  const [source, url] = flag !== undefined ? ['--redis', flag] : ['LATCHKEY_BENCH_REDIS_URL', env.LATCHKEY_BENCH_REDIS_URL || undefined];
  if (url !== undefined && !/^rediss?:\/\//.test(url)) throw new UsageError(`${source}: expected redis://… or rediss://…`);
  return url;
}

function resolveProfileDir(dir: string | undefined): string | undefined {
  if (dir === '') throw new UsageError('--profile: expected a directory');
  return dir;
}

function resolveRounds(rounds: string): number {
  if (!/^[1-9][0-9]?$/.test(rounds)) throw new UsageError(`--rounds ${rounds}: expected a whole number from 1 to 99`);
  return Number(rounds);
}

function resolveDuration(duration: string | undefined, quick: boolean): number {
  if (duration === undefined) return quick ? QUICK_DURATION_SECONDS : DEFAULT_DURATION_SECONDS;
  if (quick) throw new UsageError('--duration and --quick are mutually exclusive');
  const seconds = Number(duration);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--duration ${duration}: expected a positive number of seconds`);
  }
  return seconds;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}
