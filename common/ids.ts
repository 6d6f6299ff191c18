// Pure validation of identifiers that end up in paths, task queue names, workflow ids and
// command lines. Imported by workflow code too, so: no Node built-ins here.

/** Device ids: lowercase letters, digits and dashes; never a path or a shell fragment. */
export const DEVICE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Model names share the device id rules; they become part of workflow ids and file names. */
export const MODEL_NAME_PATTERN = DEVICE_ID_PATTERN;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export class InvalidIdentifierError extends Error {
  constructor(kind: string, value: unknown, rule: string) {
    super(`invalid ${kind} ${JSON.stringify(value)}: ${rule}`);
    this.name = 'InvalidIdentifier';
  }
}

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

export function assertDeviceId(value: unknown): asserts value is string {
  if (!isDeviceId(value)) {
    throw new InvalidIdentifierError('device id', value, 'use 1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit');
  }
}

export function assertSha256(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !SHA256_PATTERN.test(value)) {
    throw new InvalidIdentifierError('sha256', value, 'expected 64 lowercase hex characters');
  }
}
