/**
 * Summarises a saved V8 CPU profile (a --profile .cpuprofile, or any
 * `node --cpu-prof` file) the way `npm run bench -- --profile` does: self
 * time by category, top functions by self and total samples.
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--from US] [--to US]
 *                                              [--app-root DIR] [--top N] [--json]
 *
 * --from/--to cut the window (µs on the profile's clock, CLOCK_MONOTONIC:
 * `process.hrtime.bigint() / 1000n` of any process on the machine); the
 * app root makes its files show per file (default: the current directory).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ProfileFormatError, renderProfileSummary, summariseProfile, type CpuProfile } from './lib/profile.js';

const USAGE = 'Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--from US] [--to US] [--app-root DIR] [--top N] [--json]';

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`profile-summary: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const { file, from, to, appRoot, top, json } = parsed;
  // The file's own JSON: a parse error or a ProfileFormatError says what is wrong with it.
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  try {
    const summary = summariseProfile(profile, {
      window: { startUs: from ?? profile.startTime, endUs: to ?? profile.endTime },
      appRoot,
      topSelf: top,
      topTotal: top,
    });
    process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `# ${file}\n\n${renderProfileSummary(summary)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ProfileFormatError)) throw error;
    process.stderr.write(`profile-summary: ${file}: ${error.message}\n`);
    return 1;
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'app-root': { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error('expected one .cpuprofile file');
  return {
    file: positionals[0]!,
    from: optionalNumber('--from', values.from),
    to: optionalNumber('--to', values.to),
    appRoot: resolve(values['app-root'] ?? '.'),
    top: optionalNumber('--top', values.top),
    json: values.json,
  };
}

function optionalNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) throw new Error(`${flag} ${value}: expected a number`);
  return number;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`profile-summary: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
