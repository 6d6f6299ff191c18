// Workflow time, replay-safe: the SDK pins Date to the time of the current workflow task. Its own
// tiny module, so the per-device workflows need not evaluate the deployment's progress code.

export function nowMs(): number {
  return new Date().getTime();
}

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}
