// The one place that turns what happened on a device into the report's words: the phase a step
// leaves it in, whether a restore changed it, what a failed swap or validation says about it,
// the fleet row's phase and failure, and the outcome its owner records when the lease goes back.
// Pure (no activity, no workflow API, types only): the plain deployment (workflows/deploy/), the
// fleet's per-device workflow and the fleet's parent all read these; test/unit/device-outcomes.test.ts.
import type { RestoreBackupResult } from '../../common/contracts';
import type { DeviceOutcome } from '../../common/ownership';
import type { DeviceRolloutStep, FleetDeviceRow } from '../../common/rollout';
import type { DeploymentStatusName, DevicePhase, DeviceState, FailureSummary, StageName } from '../report';
import { restoreChangedDevice } from './stepMeaning';

// What a step's result says about the device (kept apart so the per-device workflow loads only that).
export { deployFailed, deviceRolloutFailed, measuredValidation, restoreChangedDevice, swapMayHaveSwitched, validationFigures } from './stepMeaning';

/** The steps of a plain deployment that show in a device's phase, and what each phase is called. */
const STEP_PHASES = {
  stage: { running: 'staging', ok: 'staged', failed: 'push-failed' },
  swap: { running: 'swapping', ok: 'swapped', failed: 'swap-failed' },
  validate: { running: 'validating', ok: 'validated', failed: 'validation-failed' },
  restore: { running: 'restoring', ok: 'restored', failed: 'restore-failed' },
} as const satisfies Record<string, Record<'running' | 'ok' | 'failed', DevicePhase>>;

export type PhasedStep = keyof typeof STEP_PHASES;

/** The device's phase while a step runs, after it succeeded, or after it failed. */
export function stepPhase<S extends PhasedStep, E extends 'running' | 'ok' | 'failed'>(step: S, event: E): (typeof STEP_PHASES)[S][E] {
  return STEP_PHASES[step][event];
}

/**
 * Phases in which the device may serve this run's model: the swap was sent and no restore has
 * said otherwise. A run that ends there leaves the device's state unknown to its owner.
 */
const LIVE_PHASES: ReadonlySet<DevicePhase> = new Set(['swapping', 'swapped', 'validating', 'validated', 'validation-failed', 'restoring']);

/** Phases before any swap: a discard of the staged copy is the device's last word. */
const STAGED_PHASES: ReadonlySet<DevicePhase> = new Set(['staging', 'staged', 'push-failed']);

/** The phase after a discard (after a failed swap, the restore's outcome keeps the word). */
export function phaseAfterDiscard(current: DevicePhase): DevicePhase {
  return STAGED_PHASES.has(current) ? 'discarded' : current;
}

/** The device's phase after a restore that succeeded. */
export function phaseAfterRestore(restore: Pick<RestoreBackupResult, 'outcome'>): 'restored' | 'restore-skipped' {
  return restoreChangedDevice(restore) ? 'restored' : 'restore-skipped';
}

/** The report's stage for a device rollout step (a soak belongs to the rollout; probe and restore to the undo). */
export function stageOfStep(step: DeviceRolloutStep | undefined): StageName {
  return step === 'validate' || step === 'swap' || step === 'stage' ? step : step === 'soak' ? 'rollout' : 'compensate';
}

// ---- fleet rows -----------------------------------------------------------------------------

/** A failed row's "<type>: <message>" as the report's failure summary, at the stage it failed. */
export function rowFailure(row: FleetDeviceRow): FailureSummary | undefined {
  if (!row.error) return undefined;
  const colon = row.error.indexOf(': ');
  const [type, message] = colon > 0 ? [row.error.slice(0, colon), row.error.slice(colon + 2)] : ['DeviceRolloutFailed', row.error];
  return { stage: stageOfStep(row.failedStep), deviceId: row.deviceId, type, message };
}

/** A fleet row's device phase, for the report's device list (what clients without fleet support show). */
export function rowPhase(row: FleetDeviceRow, current: DevicePhase): DevicePhase {
  if (row.revert === 'reverted') return row.restore ? phaseAfterRestore(row.restore) : 'restored';
  if (row.revert === 'revert-failed') return 'restore-failed';
  switch (row.outcome) {
    case 'pending':
      return current === 'resolved' ? 'resolved' : 'leased';
    case 'validated':
      return 'validated';
    case 'failed':
    case 'cancelled':
      return row.restore ? phaseAfterRestore(row.restore) : 'discarded';
    case 'failed-unrestored':
    case 'revert-failed':
      return 'restore-failed';
    case 'skipped-offline':
      return 'skipped-offline';
    case 'awaiting-catch-up':
      return 'awaiting-catch-up';
    case 'not-reached':
      return 'not-reached';
    case 'reverted':
      return 'restored';
  }
}

// ---- what the owner records when the lease goes back ------------------------------------------

type Backups = { backups?: string[] };

/** After a restore: rolled back to what it names, or untouched (with the restore's reason). */
function afterRestore(restore: Pick<RestoreBackupResult, 'outcome' | 'restoredSha256'> & { reason?: string }, status: DeploymentStatusName, backups: Backups): DeviceOutcome {
  return restoreChangedDevice(restore)
    ? { kind: 'rolled-back', servesSha256: restore.restoredSha256, deploymentStatus: status, ...backups }
    : { kind: 'untouched', deploymentStatus: status, reason: restore.reason ?? restore.outcome };
}

/** A plain deployment's device, by the phase the run left it in. */
export function ownerOutcomeOfDevice(device: DeviceState, status: DeploymentStatusName, artifactSha256: string | undefined): DeviceOutcome {
  const backups = device.backupsOnDevice ? { backups: device.backupsOnDevice } : {};
  if (device.phase === 'validated' && status === 'completed') return { kind: 'deployed', servesSha256: artifactSha256 ?? null, deploymentStatus: status, ...backups };
  if (device.phase === 'restored' && device.restore) return afterRestore(device.restore, status, backups);
  if (device.phase === 'restore-failed') return { kind: 'unknown', deploymentStatus: status, reason: device.error ? `${device.error.type}: ${device.error.message}` : 'the restore failed', ...backups };
  if (device.phase === 'restore-skipped') return { kind: 'untouched', deploymentStatus: status, reason: device.restore?.reason ?? 'nothing of this run to undo' };
  return LIVE_PHASES.has(device.phase) ? { kind: 'unknown', deploymentStatus: status, reason: `the run ended with the device ${device.phase}`, ...backups } : { kind: 'untouched', deploymentStatus: status };
}

/** A fleet rollout's device, by its row (the revert's outcome first). */
export function ownerOutcomeOfRow(row: FleetDeviceRow, status: DeploymentStatusName, artifactSha256: string, backupsOnDevice: string[] | undefined): DeviceOutcome {
  const backups = backupsOnDevice ? { backups: backupsOnDevice } : {};
  if (row.revert === 'revert-failed') return { kind: 'unknown', deploymentStatus: status, reason: row.error ?? 'the revert failed', ...backups };
  if (row.revert === 'reverted' && row.restore) return afterRestore(row.restore, status, backups);
  switch (row.outcome) {
    case 'validated':
      return { kind: 'deployed', servesSha256: artifactSha256, deploymentStatus: status, ...backups };
    case 'failed':
    case 'cancelled':
      return row.restore ? afterRestore(row.restore, status, backups) : { kind: 'untouched', deploymentStatus: status };
    case 'failed-unrestored':
      return { kind: 'unknown', deploymentStatus: status, reason: row.error ?? 'the restore failed', ...backups };
    case 'skipped-offline':
      return { kind: 'skipped-offline', deploymentStatus: status, reason: row.error ?? 'offline at its turn' };
    default:
      return { kind: 'untouched', deploymentStatus: status };
  }
}
