// Pure rollout-plan rules: which devices go in which wave, and when the failures seen so far halt
// the rollout. No Temporal APIs: unit-tested directly and shared by the waves and the parent.
import type { DeployRequest } from '../../common/request';
import type { HaltCriteria, HaltTally, PlannedWave } from '../../common/rollout';

export type RolloutPlanRequest = NonNullable<DeployRequest['rollout']>;

/**
 * The canary first (listed ids, or the first `count` devices in request order), then the waves
 * in order: a count, or a percentage of the whole fleet rounded up (at least one device). What
 * the listed waves leave forms one last wave; waves past the end of the fleet are dropped.
 */
export function planWaves(devices: readonly string[], plan: RolloutPlanRequest): PlannedWave[] {
  const canary = Array.isArray(plan.canary) ? [...plan.canary] : devices.slice(0, plan.canary.count);
  const inCanary = new Set(canary);
  const rest = devices.filter((id) => !inCanary.has(id));
  const waves: PlannedWave[] = [{ name: 'canary', devices: canary }];
  let at = 0;
  for (const size of plan.waves) {
    if (at >= rest.length) break;
    const n = typeof size === 'number' ? size : Math.max(1, Math.ceil((Number.parseFloat(size) / 100) * devices.length));
    waves.push({ name: `wave-${waves.length}`, devices: rest.slice(at, at + n) });
    at += n;
  }
  if (at < rest.length) waves.push({ name: `wave-${waves.length}`, devices: rest.slice(at) });
  return waves;
}

export function haltCriteriaOf(plan: RolloutPlanRequest): HaltCriteria {
  const h = plan.halt;
  return {
    // With neither a count nor a percentage, any failure halts.
    ...(h.maxFailed !== undefined ? { maxFailed: h.maxFailed } : h.maxFailedPercent === undefined ? { maxFailed: 0 } : {}),
    ...(h.maxFailedPercent !== undefined ? { maxFailedPercent: h.maxFailedPercent } : {}),
    minDoneForPercent: h.minDoneForPercent,
    countOffline: h.countOffline,
  };
}

/** The failures that count against the criteria. */
export function countedFailures(criteria: HaltCriteria, tally: HaltTally): number {
  return tally.failed + (criteria.countOffline ? tally.offline : 0);
}

function percent(n: number, of: number): string {
  return `${((100 * n) / Math.max(1, of)).toFixed(1)} %`;
}

/** The criteria's current figure, for `edgeship watch`. */
export function haltFigure(criteria: HaltCriteria, tally: HaltTally): string {
  const failed = countedFailures(criteria, tally);
  const parts: string[] = [];
  if (criteria.maxFailed !== undefined) parts.push(`${failed} failed, halts above ${criteria.maxFailed}`);
  if (criteria.maxFailedPercent !== undefined) {
    parts.push(`${failed} of ${tally.done} done failed (${percent(failed, tally.done)}), halts above ${criteria.maxFailedPercent} % once ${criteria.minDoneForPercent} are done`);
  }
  return parts.join('; ');
}

/** Why the rollout must halt now, or undefined. The canary halts on its first failure. */
export function haltReason(criteria: HaltCriteria, tally: HaltTally, canary: boolean): string | undefined {
  const failed = countedFailures(criteria, tally);
  if (canary && failed > 0) return `a canary device failed (${failed} failed)`;
  if (criteria.maxFailed !== undefined && failed > criteria.maxFailed) return `${failed} devices failed, more than maxFailed ${criteria.maxFailed}`;
  if (criteria.maxFailedPercent !== undefined && tally.done >= criteria.minDoneForPercent && (100 * failed) / tally.done > criteria.maxFailedPercent) {
    return `${failed} of ${tally.done} devices done failed (${percent(failed, tally.done)}), more than maxFailedPercent ${criteria.maxFailedPercent} %`;
  }
  return undefined;
}
