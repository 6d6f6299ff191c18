// The deployment's pause and resume signals: taken into the PauseBook (also before the rollout
// begins, which then waits), refused with their reason where they cannot apply, passed on to the
// rollout once it runs.
import { log, setHandler } from '@temporalio/workflow';
import { isoAt, nowMs } from '../clock';
import { pauseSignal, resumeSignal } from '../messages';
import type { DeployContext } from '../deploy/context';
import type { FleetRollout } from './fleetRollout';
import { PauseBook } from './pauseBook';

export function installPauseHandlers(ctx: Pick<DeployContext, 'request' | 'progress'>, fleet: () => FleetRollout | undefined): PauseBook {
  const pauses = new PauseBook();
  const report = ctx.progress.report;
  const onSignal = async (name: 'pause' | 'resume', payload: unknown): Promise<void> => {
    const at = isoAt(nowMs());
    const refusal = !ctx.request.rollout ? 'pause and resume apply to fleet rollouts; this deployment has no rollout plan' : name === 'pause' ? pauses.pause(payload, at) : pauses.resume(payload, at);
    if (refusal) {
      // A signal cannot be refused to its sender; keep the refusal visible in the status instead.
      const by = payload && typeof payload === 'object' && typeof (payload as { by?: unknown }).by === 'string' ? (payload as { by: string }).by : undefined;
      report.ignoredMessages.push({ name, ...(by ? { by } : {}), at, reason: refusal });
      log.warn('ignored signal', { signal: name, by, reason: refusal });
      ctx.progress.publish();
      return;
    }
    const rollout = fleet();
    if (rollout) await rollout.pauseChanged();
    else ctx.progress.publish();
  };
  setHandler(pauseSignal, (input) => onSignal('pause', input));
  setHandler(resumeSignal, (input) => onSignal('resume', input));
  return pauses;
}
