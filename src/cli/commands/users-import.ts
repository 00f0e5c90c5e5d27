/**
 * `latchkey users import`: Auth0's user-import file through the same row
 * code as `POST /api/v2/jobs/users-imports` (identity/user-import.ts):
 * passwords hashed in parallel within `password_hashing.concurrency`, a
 * progress bar on a terminal, and a summary that stays short however many
 * rows fail (a re-run of 5,000 users prints a few lines, not 5,000).
 */
import { readFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ImportFileError, readImportFile } from '../../identity/user-import-file.js';
import type { ImportFailure, ImportOutcome } from '../../identity/user-import.js';
import { CliUsageError, pickConnection, pickTenant, requireDatabaseConnection, withAdmin, type AdminOptions } from './context.js';

/** Refused rows listed one by one per error code; the rest of that code is one line. */
const LISTED_PER_CODE = 5;

/** What the "… and N more" line says of a code. */
const MORE_OF: Readonly<Record<string, string>> = {
  DUPLICATED_USER: 'already exist (run with --upsert to update them)',
  PASSWORD_POLICY: "were refused by the connection's password policy",
};

export function registerUsersImport(users: Command, withTarget: (command: Command) => Command): void {
  withTarget(
    users
      .command('import')
      .description("import users from Auth0's user-import file (a JSON array; password, bcrypt or argon2 hashes)")
      .addHelpText(
        'after',
        '\nKeys as Auth0 documents them (email, email_verified, username, given_name, family_name, name, nickname, picture, blocked,\n' +
          'user_id, user_metadata, app_metadata, password_hash, custom_password_hash {algorithm: bcrypt|argon2, hash: {value}}),\n' +
          'or a plain "password" (checked against the password policy). A key Auth0 does not document is refused with its path.',
      ),
  )
    .requiredOption('-f, --file <file>', 'the JSON file')
    .option('--upsert', 'update users that already exist instead of refusing them')
    .action(async (options: AdminOptions & { file: string; upsert?: boolean }) => {
      const rows = readRows(options.file);
      await withAdmin(options, 'write', async (admin) => {
        const tenant = pickTenant(admin, options.tenant);
        const connection = requireDatabaseConnection(pickConnection(tenant, options.connection));
        const bar = process.stderr.isTTY && rows.length > 0 ? progressBar(rows.length) : undefined;
        let outcome: ImportOutcome;
        try {
          outcome = await admin.userImporter().importRows({ tenant, connection }, rows, {
            upsert: options.upsert === true,
            source: 'cli',
            onProgress: ({ counts }) => bar?.update(counts.inserted + counts.updated + counts.failed, { failed: counts.failed }),
          });
        } finally {
          bar?.stop();
        }
        printSummary(outcome, `${tenant.name}/${connection.name}`);
        if (outcome.counts.failed > 0) process.exitCode = 1;
      });
    });
}

function readRows(file: string): unknown[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliUsageError(`${file}: not readable (${(err as Error).message})`);
  }
  try {
    return readImportFile(content);
  } catch (err) {
    if (err instanceof ImportFileError) throw new CliUsageError(`${file}: ${err.message}`);
    throw err;
  }
}

function progressBar(total: number): SingleBar {
  const bar = new SingleBar({
    format: 'importing [{bar}] {value}/{total} users, {failed} failed, {eta_formatted} left',
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0, { failed: 0 });
  return bar;
}

function printSummary({ counts, failures }: ImportOutcome, where: string): void {
  const imported = counts.inserted + counts.updated;
  const updated = counts.updated > 0 ? ` (${counts.inserted} new, ${counts.updated} updated)` : '';
  process.stdout.write(`imported ${imported} of ${counts.total} users into ${where}${updated}\n`);
  if (counts.failed === 0) return;
  const lines = [`skipped ${counts.failed}:`];
  for (const [code, group] of groupByCode(failures)) {
    for (const failure of group.slice(0, LISTED_PER_CODE)) lines.push(...failureLines(failure));
    const more = group.length - LISTED_PER_CODE;
    if (more > 0) lines.push(`  … and ${more} more that ${MORE_OF[code] ?? `failed with ${code}`}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function groupByCode(failures: readonly ImportFailure[]): Map<string, ImportFailure[]> {
  const groups = new Map<string, ImportFailure[]>();
  for (const failure of failures) {
    const code = failure.errors[0]?.code ?? 'UNKNOWN';
    const group = groups.get(code);
    if (group) group.push(failure);
    else groups.set(code, [failure]);
  }
  return groups;
}

/** `[3] ada@example.com: unknown key (…) at [3].pasword`: the row, who it is, what is wrong and where. */
function failureLines(failure: ImportFailure): string[] {
  const login = failure.user.username ?? failure.user.email;
  const who = typeof login === 'string' ? ` ${login}` : '';
  return failure.errors.map((error) => {
    const where = error.path === `[${failure.index}]` ? '' : ` at ${error.path}`;
    return `  [${failure.index}]${who}: ${error.message}${where}`;
  });
}
