// A real Temporal dev server for tests: the `temporal` binary found by findTemporalCli(), run via
// `existing-path` so nothing downloads, with edgeship's search attributes registered.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { DEV_SERVER_FLAGS, findTemporalCli } from '../../lib/temporalCli';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../../common/searchAttributes';

export async function startTestTemporal(opts: { ui?: boolean; uiPort?: number } = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: findTemporalCli() },
      searchAttributes: [SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS, SA_DEVICES],
      ui: opts.ui ?? false,
      uiPort: opts.uiPort,
      extraArgs: ['--log-level', 'error', ...DEV_SERVER_FLAGS],
    },
  });
}

/** Worker chatter and the expected activity failures of workflow tests would bury their output. */
export function quietSdkLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Another test file in this process installed the runtime first; keep its logger.
  }
}
