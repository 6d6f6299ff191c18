// The deployment request: what a user asks edgeship to do, validated before a workflow starts.
// Pure zod (no Node built-ins), so clients, scripts, tests and the workflow itself (which parses
// its own input: a run may be started from the Temporal CLI or UI) share one schema.
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';
import { canonicalJson } from './canonicalJson';
import { CALIBRATION_METHODS, COMPILE_TARGETS, QUANT_FORMATS, type CompileTarget } from './contracts';
import { requestGatesShape } from './gateSchemas';
import { DEVICE_ID_PATTERN, MODEL_NAME_PATTERN, SHA256_PATTERN } from './ids';
import { ON_BUSY } from './ownership';
import { APPROVAL_POINTS, OFFLINE_POLICIES, ON_HALT } from './rollout';

const idRule = '1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit';

/**
 * A duration written as milliseconds or an `ms` string ("90s", "30m", "24h"); parsed to
 * milliseconds so the workflow gets plain numbers (and can show deadlines).
 */
const duration = z.union([z.number().int().positive(), z.string().min(1)]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  let ms = Number.NaN;
  try {
    ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
  } catch {
    // reported below
  }
  if (!(ms > 0) || !Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: `not a positive duration: ${JSON.stringify(value)} (use milliseconds or e.g. "90s", "30m", "24h")` });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** A wave's size as a percentage of the fleet: 0–100 %, decimals allowed. */
const WAVE_PERCENTAGE = /^(100|[1-9]?[0-9](\.[0-9]+)?)%$/;

export const ModelSourceSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('checkpoint'), checkpointPath: z.string().min(1) }),
  z.strictObject({ kind: z.literal('command'), argv: z.array(z.string()).min(1), cwd: z.string().min(1).optional() }),
]);

export const DeployRequestSchema = z.strictObject({
  modelName: z.string().regex(MODEL_NAME_PATTERN, idRule),
  source: ModelSourceSchema,
  /**
   * sha256 of the source as the client saw it (the checkpoint file, or the canonical JSON of a
   * command's argv and cwd). The workflow id is derived from it, and the workflow fails before
   * touching any device if the export activity hashes something else (the file changed).
   */
  sourceSha256: z.string().regex(SHA256_PATTERN, '64 lowercase hex characters').optional(),
  target: z.enum(COMPILE_TARGETS),
  devices: z
    .array(z.string().regex(DEVICE_ID_PATTERN, `device id: ${idRule}`))
    .min(1, 'list at least one device id')
    .refine((ids) => new Set(ids).size === ids.length, { message: 'each device may be listed once' }),
  conv2d: z.boolean().optional(),
  calibration: z
    .strictObject({
      samples: z.number().int().min(16).max(100_000).default(2000),
      dataDir: z.string().min(1).optional(),
      seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    })
    .prefault({}),
  /** Every gate with its default: the one table in common/gates.ts (field, default, where it is checked). */
  gates: z.strictObject(requestGatesShape()).prefault({}),
  /** cpu-int8 only: how onnxruntime quantizes (see common/contracts.ts QuantizationOptions). */
  quantization: z
    .strictObject({
      format: z.enum(QUANT_FORMATS).default('S8S8'),
      calibrationMethod: z.enum(CALIBRATION_METHODS).default('MinMax'),
      reduceRange: z.boolean().default(false),
      maxExcludedNodes: z.number().int().min(0).max(64).default(4),
    })
    .prefault({}),
  validation: z
    .strictObject({
      latencyRequests: z.number().int().min(100).max(100_000).default(200),
      concurrency: z.number().int().min(1).max(256).default(8),
      throughputDurationMs: z.number().int().min(500).max(600_000).default(3000),
    })
    .prefault({}),
  approval: z
    .strictObject({
      required: z.boolean().default(true),
      timeout: duration.prefault('24h'),
      /** When given, only these people may approve or reject. */
      approvers: z.array(z.string().trim().min(1)).min(1).optional(),
    })
    .prefault({}),
  /**
   * When another deployment holds one of the devices: wait in that device's queue (default) or
   * fail at once with DeviceBusy. Nothing is staged before every device's lease is held.
   */
  onBusy: z.enum(ON_BUSY).default('queue'),
  /**
   * Devices that check signatures refuse a signed release older (lower sequence, same model
   * name) than the one they serve (DowngradeRefused). true lets this deployment install it: an
   * explicit roll back to an older release, shown on the approval screen and in the report.
   */
  allowDowngrade: z.boolean().default(false),
  /** How long to wait in device queues before failing with DeviceBusy (nothing touched). */
  queueTimeout: duration.prefault('24h'),
  /** Deadlines of the device-side activities; shorten them for simulated fleets and tests. */
  edge: z
    .strictObject({
      /** How long swap and restore wait for /healthz to name the expected sha. */
      healthTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
      /**
       * Bounds swap and validate including retries and time spent queued: a device whose edge
       * worker is gone fails the deployment (and triggers the rollback) after this long.
       */
      deviceDeadline: duration.prefault('30m'),
      /** Bounds each compensation on a device. Longer: a rollback should try hard. */
      restoreDeadline: duration.prefault('1h'),
      /**
       * How long a compensation waits for a device's worker to pick it up before the rollback
       * moves on to the next device; an unreached restore is retried (with restoreDeadline)
       * once every other device has been restored.
       */
      queueWait: duration.prefault('2m'),
      /**
       * Fleet rollouts only: send every device-side activity to this one task queue instead of
       * `edge.<deviceId>`. For the scale test (bench/fleet-scale.ts), whose in-memory stand-ins
       * of the device activities serve 2,000 devices from one worker; never for real devices.
       */
      sharedTaskQueue: z.string().min(1).max(200).optional(),
    })
    .prefault({}),
  /**
   * A fleet rollout plan (docs/fleet-rollouts.md). Absent: every device is staged, approved
   * once, then swapped and validated one after another, and the first failure rolls all back.
   */
  rollout: z
    .strictObject({
      /** Canary devices: ids from `devices`, or how many of the first listed. */
      canary: z.union([z.array(z.string().regex(DEVICE_ID_PATTERN, `device id: ${idRule}`)).min(1), z.strictObject({ count: z.number().int().min(1) })]).prefault({ count: 1 }),
      /** After the canary: wave sizes as device counts or percentages of the fleet ("25%"); what is left forms a last wave. */
      waves: z.array(z.union([z.number().int().min(1), z.string().regex(WAVE_PERCENTAGE, 'a percentage such as "25%"')])).default([]),
      /** Devices swapped at once within a wave. */
      maxParallel: z.number().int().min(1).max(500).default(10),
      /** After each device validates: watch /healthz and /metrics this long ("0" = no soak). */
      soak: z.union([z.literal(0), duration]).default(0),
      halt: z
        .strictObject({
          maxFailed: z.number().int().min(0).optional(),
          maxFailedPercent: z.number().min(0).max(100).optional(),
          minDoneForPercent: z.number().int().min(1).default(10),
          countOffline: z.boolean().default(false),
        })
        .prefault({}),
      onHalt: z.enum(ON_HALT).default('revert-all'),
      /** When a person decides (approval.required): after the canary, or before every wave too. */
      approval: z.enum(APPROVAL_POINTS).default('after-canary'),
      /** Old-model devices measured next to the canary for the approval (0 = none). */
      baselineDevices: z.number().int().min(0).max(10).default(2),
      offline: z.enum(OFFLINE_POLICIES).default('skip'),
      /** A device whose edge worker has not picked up its first call after this long is offline. */
      offlineAfter: duration.prefault('30s'),
      /** catch-up: how long after the run started an offline device is still brought up to date. */
      deadline: duration.prefault('24h'),
      /** Revert, after a halt, at most this many devices at once. */
      revertParallel: z.number().int().min(1).max(500).default(20),
    })
    .optional(),
}).superRefine((req, ctx) => {
  const plan = req.rollout;
  if (req.edge.sharedTaskQueue !== undefined && !plan) ctx.addIssue({ code: 'custom', path: ['edge', 'sharedTaskQueue'], message: 'only with a rollout plan' });
  if (!plan) return;
  if (Array.isArray(plan.canary)) {
    const unknown = plan.canary.filter((id) => !req.devices.includes(id));
    if (unknown.length > 0) ctx.addIssue({ code: 'custom', path: ['rollout', 'canary'], message: `not in devices: ${unknown.join(', ')}` });
    if (new Set(plan.canary).size !== plan.canary.length) ctx.addIssue({ code: 'custom', path: ['rollout', 'canary'], message: 'each canary device may be listed once' });
  } else if (plan.canary.count > req.devices.length) {
    ctx.addIssue({ code: 'custom', path: ['rollout', 'canary', 'count'], message: `${plan.canary.count} canary devices asked, ${req.devices.length} listed` });
  }
  // Each percentage is of the whole fleet: together they can cover it once, not more. Refused
  // like a single "150%" wave instead of running fewer devices than the plan reads.
  // (A percentage the field rule refused, such as "150%", is reported there alone.)
  const percentages = plan.waves.filter((w): w is string => typeof w === 'string' && WAVE_PERCENTAGE.test(w));
  const total = percentages.reduce((sum, w) => sum + Number.parseFloat(w), 0);
  if (total > 100) ctx.addIssue({ code: 'custom', path: ['rollout', 'waves'], message: `the percentages add up to ${Number(total.toFixed(4))}% of the fleet (${percentages.join(' + ')}); at most 100%` });
});

/** A validated request with every default filled in: what the workflow receives. */
export type DeployRequest = z.output<typeof DeployRequestSchema>;
/** What a user may write in a request file (defaults optional). */
export type DeployRequestInput = z.input<typeof DeployRequestSchema>;

export class InvalidDeployRequest extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid deployment request:\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'InvalidRequest';
  }
}

export function parseDeployRequest(raw: unknown): DeployRequest {
  const parsed = DeployRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidDeployRequest(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}

/**
 * Workflow id of a deployment: `deploy-<model>-<target>-<first 12 hex of the source sha256>`.
 * The target is part of it: the same checkpoint compiled for cpu-int8 is another artifact, and
 * so another deployment, than its cpu-fp32 build.
 *
 * Reuse policy (set by the client at start): WorkflowIdConflictPolicy.FAIL — while a deployment
 * of this model+target+source runs, starting it again is refused instead of running it twice;
 * WorkflowIdReusePolicy.ALLOW_DUPLICATE — once it has closed (whatever the outcome) the same
 * source may be deployed again on purpose, e.g. after a rejection or with other gates. Every run
 * keeps its own history under the same id, and everything a run leaves on a device is keyed by
 * workflow id + run id, so a re-run never reads an earlier run's swap journal. Two deployments
 * with different ids never race either: each device has one owner at a time (common/ownership.ts).
 */
export function deploymentWorkflowId(modelName: string, target: string, sourceSha256: string): string {
  if (!MODEL_NAME_PATTERN.test(modelName)) throw new InvalidDeployRequest([`modelName: ${idRule}`]);
  if (!(COMPILE_TARGETS as readonly string[]).includes(target)) throw new InvalidDeployRequest([`target: one of ${COMPILE_TARGETS.join(', ')}`]);
  if (!SHA256_PATTERN.test(sourceSha256)) throw new InvalidDeployRequest(['sourceSha256: 64 lowercase hex characters']);
  return `deploy-${modelName}-${target}-${sourceSha256.slice(0, 12)}`;
}

/** The parts of a deployment's workflow id, or undefined when the id was not built by deploymentWorkflowId. */
export function parseDeploymentWorkflowId(workflowId: string): { modelName: string; target: CompileTarget; sourceSha256Prefix: string } | undefined {
  // The target is the segment right before the 12 hex; no target is a suffix of another after a dash.
  const m = /^deploy-(.+)-([a-z0-9-]+)-([0-9a-f]{12})$/.exec(workflowId);
  if (!m) return undefined;
  for (const target of COMPILE_TARGETS) {
    const tail = `-${target}-${m[3]}`;
    const modelName = workflowId.slice('deploy-'.length, workflowId.length - tail.length);
    if (workflowId.endsWith(tail) && MODEL_NAME_PATTERN.test(modelName)) return { modelName, target, sourceSha256Prefix: m[3] };
  }
  return undefined;
}

/**
 * A command source is identified by the sha256 of canonicalJson({argv, cwd}) — the same bytes
 * the export activity hashes, so the workflow id and the export's sourceSha256 agree.
 */
export { canonicalJson };
