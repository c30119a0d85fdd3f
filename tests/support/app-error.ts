import { expect } from 'vitest';
import { AppError } from '../../packages/server/src/errors.js';

/** The stable code of the AppError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AppError);
  return (error as AppError).code;
}
