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
  readonly help: boolean;
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
  --tsx              run the server from src/ with tsx instead of building dist/
  --db sqlite        storage backend (postgres: reserved, not implemented yet)
  --nodes 1          server nodes (more than 1: reserved, not implemented yet)
  -h, --help         show this text`;

const OPTION_SPEC = {
  duration: { type: 'string' },
  quick: { type: 'boolean', default: false },
  scenario: { type: 'string', multiple: true, default: [] as string[] },
  json: { type: 'string' },
  rounds: { type: 'string', default: '1' },
  tsx: { type: 'boolean', default: false },
  db: { type: 'string', default: 'sqlite' },
  nodes: { type: 'string', default: '1' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseStrict(argv);
  rejectReserved(values.db, values.nodes);
  return {
    durationSeconds: resolveDuration(values.duration, values.quick),
    useTsx: values.tsx,
    scenarioSelectors: values.scenario.flatMap(splitList),
    rounds: resolveRounds(values.rounds),
    jsonPath: values.json,
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

/** `--db postgres` and `--nodes N` belong to a later issue; accept the flags so scripts can be written against them now. */
function rejectReserved(db: string, nodes: string): void {
  if (db === 'postgres') {
    throw new UsageError('--db postgres: not implemented yet (reserved for multi-node benchmarking)');
  }
  if (db !== 'sqlite') throw new UsageError(`--db ${db}: expected sqlite (or, later, postgres)`);
  if (!/^[1-9][0-9]*$/.test(nodes)) throw new UsageError(`--nodes ${nodes}: expected a positive integer`);
  if (nodes !== '1') {
    throw new UsageError(`--nodes ${nodes}: not implemented yet (reserved for multi-node benchmarking)`);
  }
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
