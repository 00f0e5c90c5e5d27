/** What the configuration loader says is wrong with a config object (its ConfigError's problems); fails if it accepts it. */
import assert from 'node:assert/strict';
import { ConfigError, resolveConfig } from '../../src/config/load.js';

export function configProblems(raw: unknown): string[] {
  try {
    resolveConfig(raw, '/srv/latchkey', {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}
