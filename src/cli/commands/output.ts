/**
 * How the operator commands print what they found: a table of rows, or one
 * record as aligned `key  value` lines, or (`--json`) one JSON object per
 * line, as `logs --json` does. Shared by `users` and `apps`.
 */

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}\n`);
  }
}

/**
 * One record: JSON when asked, else a line per key. `special` renders the
 * keys whose values need words (a list of locks, of grants); the rest are
 * `-` when empty, joined when lists, else as text.
 */
export function printRecord<Shown extends Record<string, unknown>>(
  shown: Shown,
  options: { json: boolean | undefined; special?: Partial<Record<keyof Shown, () => string>> },
): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(shown)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(shown).map((k) => k.length));
  for (const [key, value] of Object.entries(shown)) {
    const render = options.special?.[key as keyof Shown];
    const text = render
      ? render()
      : value === undefined || value === null
        ? '-'
        : Array.isArray(value)
          ? value.join(', ') || '-'
          : String(value);
    process.stdout.write(`${key.padEnd(width)}  ${text}\n`);
  }
}
