/**
 * The one disposer stack of a start (bootstrap/disposers.ts): a normal close
 * and a failed start unwind the same registrations, newest first, each once,
 * and one failing close does not keep the others open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DisposerStack } from '../../src/bootstrap/disposers.js';

describe('DisposerStack', () => {
  it('closes newest first, each once, however often it is unwound', async () => {
    const closed: string[] = [];
    const stack = new DisposerStack();
    stack.defer('log', () => void closed.push('log'));
    stack.defer('database', async () => void closed.push('database'));
    stack.defer('redis', () => void closed.push('redis'));
    await Promise.all([stack.close(), stack.unwind()]);
    await stack.close();
    assert.deepEqual(closed, ['redis', 'database', 'log']);
  });

  it('a close that fails does not stop the rest; close() reports it, unwind() returns it', async () => {
    const closed: string[] = [];
    const failing = new DisposerStack();
    failing.defer('database', () => void closed.push('database'));
    failing.defer('redis', () => {
      throw new Error('socket gone');
    });
    failing.defer('hook workers', () => void closed.push('hook workers'));
    await assert.rejects(failing.close(), /closing redis failed: socket gone/);
    assert.deepEqual(closed, ['hook workers', 'database']);

    const unwound = new DisposerStack();
    unwound.defer('redis', async () => Promise.reject(new Error('socket gone')));
    const failures = await unwound.unwind();
    assert.equal(failures.length, 1);
  });

  it('a resource released early (a lock held for one phase) is not closed again', async () => {
    let released = 0;
    const stack = new DisposerStack();
    const release = stack.defer('start-up lock', () => void released++);
    await release();
    await release();
    await stack.close();
    assert.equal(released, 1);
  });
});
