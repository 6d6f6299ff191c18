// The workflow's own check of its input. Clients validate with the zod schema in
// common/request.ts, but a run can also be started by hand (`temporal workflow start --input`),
// and a malformed request must fail fast and clearly rather than half-way through a fleet.
import { COMPILE_TARGETS } from '../common/contracts';
import { ErrorType } from '../common/errors';
import { DEVICE_ID_PATTERN, MODEL_NAME_PATTERN } from '../common/ids';
import type { DeployRequest } from '../common/request';
import { deploymentFailure } from './failures';

const SECTIONS = ['calibration', 'gates', 'validation', 'approval', 'edge'] as const;

export function checkRequest(raw: unknown): asserts raw is DeployRequest {
  const problems: string[] = [];
  const r = (raw ?? {}) as Partial<Record<string, unknown>>;
  if (typeof r.modelName !== 'string' || !MODEL_NAME_PATTERN.test(r.modelName)) problems.push('modelName: 1-63 lowercase letters, digits or dashes');
  if (!(COMPILE_TARGETS as readonly unknown[]).includes(r.target)) problems.push(`target: one of ${COMPILE_TARGETS.join(', ')}`);
  const devices = r.devices;
  if (!Array.isArray(devices) || devices.length === 0) problems.push('devices: at least one device id');
  else if (devices.some((d) => typeof d !== 'string' || !DEVICE_ID_PATTERN.test(d))) problems.push('devices: device ids are lowercase letters, digits or dashes');
  else if (new Set(devices).size !== devices.length) problems.push('devices: each device may be listed once');
  const source = r.source as { kind?: unknown } | undefined;
  if (!source || (source.kind !== 'checkpoint' && source.kind !== 'command')) problems.push('source: {kind: "checkpoint", checkpointPath} or {kind: "command", argv}');
  for (const section of SECTIONS) {
    if (!r[section] || typeof r[section] !== 'object') problems.push(`${section}: missing (start deployments with \`edgeship start\`, which fills in defaults)`);
  }
  const approval = r.approval as { timeout?: unknown } | undefined;
  if (approval && typeof approval === 'object' && !(typeof approval.timeout === 'number' && approval.timeout > 0)) problems.push('approval.timeout: milliseconds > 0');
  if (problems.length > 0) throw deploymentFailure(ErrorType.InvalidRequest, `invalid deployment request: ${problems.join('; ')}`, { problems });
}
