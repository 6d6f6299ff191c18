// Reads a deployment's state. A finished run is read from what the server keeps — its result, the
// report in its failure details, or the report in its memo (a cancelled run) — so `status`,
// `watch` and `list` answer at once with no worker running. A running run is asked with the
// status query, bounded by a deadline; with no worker to answer, the server's own view (execution
// status, search attributes, memo) stands in.
import { WorkflowFailedError, type Client, type WorkflowExecutionInfo, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import type { deployModel } from '../workflows';
import { statusQuery } from '../workflows/messages';
import type { DeploymentReport, DeploymentStatus } from '../workflows/report';

export interface ServerView {
  workflowId: string;
  runId: string;
  executionStatus: string;
  startTime: string;
  closeTime?: string;
  model?: string;
  sha?: string;
  stage?: string;
  status?: string;
  devices?: string[];
  memo?: unknown;
}

/** Where a status came from: the status query, or (finished runs) the server's record. */
export type StatusSource = 'query' | 'result' | 'failure' | 'memo';

type Described = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes' | 'memo'>;

export function serverView(d: Described): ServerView {
  const sa = d.typedSearchAttributes;
  return {
    workflowId: d.workflowId,
    runId: d.runId,
    executionStatus: d.status.name,
    startTime: d.startTime.toISOString(),
    ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    model: sa.get(SA_MODEL),
    sha: sa.get(SA_SHA),
    stage: sa.get(SA_STAGE),
    status: sa.get(SA_STATUS),
    devices: sa.get(SA_DEVICES),
    memo: d.memo?.edgeship,
  };
}

export function isReport(value: unknown): value is DeploymentReport {
  return !!value && typeof value === 'object' && (value as { schema?: unknown }).schema === 'edgeship.report/1';
}

const finishedStatus = (report: DeploymentReport): DeploymentStatus => ({ ...report, finished: true });

/** The final report of a closed run, from its result, failure details or memo; undefined if none. */
export async function finishedReport(handle: WorkflowHandle<typeof deployModel>, d: Described): Promise<{ report: DeploymentReport; source: StatusSource } | undefined> {
  const memoReport = d.memo?.edgeshipReport;
  if (d.status.name === 'COMPLETED' || d.status.name === 'FAILED') {
    try {
      const result: unknown = await handle.result();
      if (isReport(result)) return { report: result, source: 'result' };
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
      const details = cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
      if (isReport(details)) return { report: details, source: 'failure' };
    }
  }
  if (isReport(memoReport)) return { report: memoReport, source: 'memo' };
  return undefined;
}

export interface DeploymentRead {
  status?: DeploymentStatus;
  server: ServerView;
  source?: StatusSource;
  queryError?: string;
}

export async function readDeployment(client: Client, id: string, opts: { queryTimeoutMs?: number } = {}): Promise<DeploymentRead> {
  const handle = client.workflow.getHandle<typeof deployModel>(id);
  const described = await handle.describe();
  const server = serverView(described);
  if (described.status.name !== 'RUNNING') {
    const found = await finishedReport(handle, described);
    if (found) return { status: finishedStatus(found.report), server, source: found.source };
  }
  try {
    // A query needs a worker; without one the server would hold the call open for long.
    const status = await client.withDeadline(Date.now() + (opts.queryTimeoutMs ?? 3000), () => handle.query(statusQuery));
    return { status, server, source: 'query' };
  } catch (err) {
    const message = (err as Error).message;
    const queryError = described.status.name === 'RUNNING' && /deadline/i.test(message) ? `no worker answered the status query within ${opts.queryTimeoutMs ?? 3000} ms` : message;
    return { server, queryError };
  }
}

/**
 * Waits for a deployment run to close and returns its final report, whatever the outcome: a run
 * that did not deploy closes Failed (its report in the failure details), a cancelled one keeps it
 * in the memo. Throws when the run closed without a report (terminated, or a bad request).
 */
export async function awaitFinalReport(client: Client, workflowId: string, runId?: string): Promise<{ report: DeploymentReport; executionStatus: string }> {
  const handle = client.workflow.getHandle<typeof deployModel>(workflowId, runId);
  await handle.result().catch(() => undefined);
  const described = await handle.describe();
  const found = await finishedReport(handle, described);
  if (!found) throw new Error(`${workflowId} closed as ${described.status.name} without a deployment report`);
  return { report: found.report, executionStatus: described.status.name };
}
