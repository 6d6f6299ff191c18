// Typed failures of the GPU activities. Retryability follows common/errors.ts, so the workflow's
// retry policy and the failure agree on what a retry can fix; `nonRetryable` overrides it where
// this side knows better (a changed file in the local store does not heal by retrying).
import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES, type ErrorTypeName } from '../../common/errors';

export function failure(type: ErrorTypeName, message: string, details?: unknown, opts: { nonRetryable?: boolean } = {}): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: opts.nonRetryable ?? NON_RETRYABLE_ERROR_TYPES.includes(type),
    details: details === undefined ? undefined : [details],
  });
}
