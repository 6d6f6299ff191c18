// Reads a deployment's state: the status query when a worker can answer it, otherwise what the
// server itself knows (execution status, search attributes, memo) so `status` still says
// something useful with no worker running.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import type { deployModel } from '../workflows';
import { statusQuery } from '../workflows/messages';
import type { DeploymentStatus } from '../workflows/report';

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

export function serverView(d: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes' | 'memo'>): ServerView {
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

export async function readDeployment(client: Client, id: string): Promise<{ status?: DeploymentStatus; server: ServerView; queryError?: string }> {
  const handle = client.workflow.getHandle<typeof deployModel>(id);
  const server = serverView(await handle.describe());
  try {
    return { status: await handle.query(statusQuery), server };
  } catch (err) {
    return { server, queryError: (err as Error).message };
  }
}
