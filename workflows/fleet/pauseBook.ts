// Pause and resume of a fleet rollout (Argo Rollouts' pause, where an abort would be too much):
// while paused no new device starts; devices in flight finish. Pure rules, no Temporal APIs: the
// deployment's signal handlers call them and record a refusal where a signal cannot be taken.
import type { PauseRecord } from '../../common/rollout';

export class PauseBook {
  readonly history: PauseRecord[] = [];

  /** The pause in force, if any. */
  get current(): PauseRecord | undefined {
    const last = this.history.at(-1);
    return last && last.resumedAt === undefined ? last : undefined;
  }

  get paused(): boolean {
    return this.current !== undefined;
  }

  /** Pauses; returns why it cannot (the caller records it), or undefined when it did. */
  pause(payload: unknown, at: string): string | undefined {
    const by = personOf(payload);
    if (!by) return 'a pause names who pauses: {"by": "<name>", "reason": "<why>"}';
    const now = this.current;
    if (now) return `already paused by ${now.by} since ${now.at}`;
    const reason = (payload as { reason?: unknown }).reason;
    this.history.push({ by, at, ...(typeof reason === 'string' && reason.trim() ? { reason: reason.trim().slice(0, 500) } : {}) });
    return undefined;
  }

  /** Resumes; returns why it cannot, or undefined when it did. */
  resume(payload: unknown, at: string): string | undefined {
    const by = personOf(payload);
    if (!by) return 'a resume names who resumes: {"by": "<name>"}';
    const now = this.current;
    if (!now) return 'the rollout is not paused';
    now.resumedBy = by;
    now.resumedAt = at;
    return undefined;
  }
}

function personOf(payload: unknown): string | undefined {
  const by = payload && typeof payload === 'object' ? (payload as { by?: unknown }).by : undefined;
  return typeof by === 'string' && by.trim().length > 0 && by.length <= 200 ? by.trim() : undefined;
}
