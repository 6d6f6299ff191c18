// Where a deployment's wall time went, from its own records (pure: unit-tested directly).
//
// - inActivitiesMs: every activity-backed stage and compensation from the moment it was
//   scheduled until its result or final failure arrived — all attempts, failed ones too, retry
//   backoff, and any time the task waited for a worker (schedule-to-start, a worker lost until its
//   heartbeat timeout). `edgeship status` splits each activity into its last attempt's run time
//   and the time before it, from the run's history.
// - selfMeasuredMs: what the successful activities measured of their own work (a reused result
//   measured none): the part of inActivitiesMs that was work rather than waiting or failing.
// - approvalWaitMs: waiting for a person. leaseMs: taking the devices' leases, including waiting
//   in their queues behind other deployments.
// - overheadMs: what remains — workflow tasks between the stages, history round trips.
// The report owns the shape (DeploymentTiming); this file only computes it, so the two do not import each other.
import type { CompensationRecord, DeploymentTiming, StageName, StageRecord } from './report';

export type { DeploymentTiming };

/** Stages that are not an activity's work: a person's decision, the device leases, the end marker. */
const NOT_ACTIVITY_STAGES: ReadonlySet<StageName> = new Set<StageName>(['approval', 'lease', 'queued', 'done', 'compensate']);

export function deploymentTiming(wallMs: number, stages: readonly StageRecord[], compensations: readonly CompensationRecord[], approvalWaitMs: number): DeploymentTiming {
  let inActivities = 0;
  let selfMeasured = 0;
  let lease = 0;
  for (const s of stages) {
    const d = s.durationMs ?? 0;
    if (s.stage === 'lease') lease += d;
    else if (!NOT_ACTIVITY_STAGES.has(s.stage)) {
      inActivities += d;
      if (s.outcome === 'ok' && !s.reused) selfMeasured += Math.min(s.activityMs ?? 0, d);
    }
  }
  for (const c of compensations) {
    inActivities += c.durationMs;
    const measured = c.ok && c.result && 'durationMs' in c.result ? (c.result as { durationMs: number }).durationMs : 0;
    selfMeasured += Math.min(measured, c.durationMs);
  }
  const approval = Math.max(0, approvalWaitMs);
  return {
    wallMs: Math.round(wallMs),
    approvalWaitMs: Math.round(approval),
    leaseMs: Math.round(lease),
    inActivitiesMs: Math.round(inActivities),
    selfMeasuredMs: Math.round(selfMeasured),
    overheadMs: Math.round(wallMs - approval - lease - inActivities),
  };
}
