// Starts a deployModel run: the id from the model and its source's sha256, the id policies, and
// the search attributes the Temporal UI filters on from the first moment.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { ModelSource } from '../common/contracts';
import { sha256File } from '../lib/hashing';
import { CONTROL_TASK_QUEUE } from '../common/queues';
import { canonicalJson, deploymentWorkflowId, type DeployRequest } from '../common/request';
import { SA_DEVICES, SA_MODEL, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import { DEPLOY_MODEL_WORKFLOW_TYPE } from '../common/workflowNames';
import type { deployModel } from '../workflows';

/** The checkpoint a request names cannot be read: the user's to fix, before anything starts. */
export class CheckpointUnreadable extends Error {
  constructor(readonly file: string, cause: NodeJS.ErrnoException) {
    super(cause.code === 'ENOENT' ? `checkpoint ${file} does not exist` : `cannot read checkpoint ${file}: ${cause.message}`);
    this.name = 'CheckpointNotFound';
  }
}

async function sha256Checkpoint(file: string): Promise<string> {
  try {
    return await sha256File(file);
  } catch (err) {
    throw new CheckpointUnreadable(file, err as NodeJS.ErrnoException);
  }
}

/**
 * sha256 of what the export will read: the checkpoint's bytes, or for an export command the
 * canonical JSON of {argv, cwd} (the export activity hashes the same).
 */
export async function sourceSha256(source: ModelSource): Promise<string> {
  if (source.kind === 'checkpoint') return sha256Checkpoint(source.checkpointPath);
  return createHash('sha256').update(canonicalJson({ argv: source.argv, cwd: source.cwd })).digest('hex');
}

/** Checkpoint paths are resolved here: the GPU worker may run from another directory. */
export function absolutizeSource(source: ModelSource, baseDir: string): ModelSource {
  if (source.kind === 'checkpoint') return { ...source, checkpointPath: path.resolve(baseDir, source.checkpointPath) };
  return source.cwd ? { ...source, cwd: path.resolve(baseDir, source.cwd) } : source;
}

/** The devices as the UI's summary line names them: all of a short list, the span of a fleet. */
export function deviceSummary(request: Pick<DeployRequest, 'devices' | 'rollout'>): string {
  const d = request.devices;
  const names = d.length <= 8 ? d.join(', ') : `${d.length} devices (${d[0]} … ${d[d.length - 1]})`;
  return request.rollout ? `${names}, in waves` : names;
}

export interface StartedDeployment {
  workflowId: string;
  runId: string;
  request: DeployRequest;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof deployModel>;
}

/**
 * Id policies, on purpose:
 * - conflict FAIL: while a deployment of this model+source runs, a second start is refused
 *   (WorkflowExecutionAlreadyStartedError) rather than racing it on the same devices;
 * - reuse ALLOW_DUPLICATE: once closed (whatever the outcome) it may be started again
 *   deliberately — after a rejection, or to another fleet.
 */
export async function startDeployment(client: Client, request: DeployRequest, opts: { taskQueue?: string } = {}): Promise<StartedDeployment> {
  const sha = request.sourceSha256 ?? (await sourceSha256(request.source));
  const withSha: DeployRequest = { ...request, sourceSha256: sha };
  const workflowId = deploymentWorkflowId(request.modelName, request.target, sha);
  const handle = await client.workflow.start<typeof deployModel>(DEPLOY_MODEL_WORKFLOW_TYPE, {
    taskQueue: opts.taskQueue ?? CONTROL_TASK_QUEUE,
    workflowId,
    args: [withSha],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: SA_MODEL, value: request.modelName },
      // A fleet's ids outgrow a search attribute (2 KB): its deviceRollout children carry one each.
      ...(request.rollout ? [] : [{ key: SA_DEVICES, value: [...request.devices] }]),
      { key: SA_STAGE, value: 'queued' },
      { key: SA_STATUS, value: 'running' },
    ],
    staticSummary: `deploy ${request.modelName} (${sha.slice(0, 12)}) → ${request.target} on ${deviceSummary(request)}`,
  });
  return { workflowId, runId: handle.firstExecutionRunId, request: withSha, handle };
}
