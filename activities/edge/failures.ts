// Typed failures of the edge activities. Retryability follows common/errors.ts unless the caller
// knows better for this very case (e.g. a staged file that is simply not there: only a new push
// can fix it, so retrying the swap is pointless even though the type is retryable elsewhere).
import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES, type ErrorTypeName } from '../../common/errors';

export function edgeFailure(type: ErrorTypeName, message: string, details?: Record<string, unknown>, nonRetryable?: boolean): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: nonRetryable ?? NON_RETRYABLE_ERROR_TYPES.includes(type),
    details: details === undefined ? undefined : [details],
  });
}
