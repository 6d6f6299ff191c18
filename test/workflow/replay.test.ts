// Replays the stored histories of deployModel runs (test/histories/*.json, recorded by
// `RECORD_HISTORIES=1 npx mocha test/workflow/deployModel.test.ts`) against the current workflow
// code. A change that would make a running deployment take a different path fails here: guard it
// with patched() instead.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyFromJSON } from '../helpers/historyJson';

const HISTORY_DIR = path.resolve(__dirname, '..', 'histories');
/** The paths deployModel.test.ts records; each must stay replayable. */
const EXPECTED = ['approve-signal', 'approve-update', 'reject', 'approval-timeout', 'target-mismatch', 'swap-fails', 'validation-fails', 'worker-lost', 'cancel-awaiting', 'cancel-after-swap'];

describe('deployModel replay (stored histories)', function () {
  this.timeout(120_000);

  it('replays every recorded path without a nondeterminism error', async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // Installed already by another test file in this process.
    }
    const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(files.map((f) => path.basename(f, '.json')).sort(), [...EXPECTED].sort(), 'a recorded path is missing or unknown');
    const histories = files.map((f) => ({ workflowId: path.basename(f, '.json'), history: historyFromJSON(JSON.parse(readFileSync(path.join(HISTORY_DIR, f), 'utf8'))) }));
    for (const h of histories) assert.ok((h.history.events?.length ?? 0) > 5, `${h.workflowId} has events`);

    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows') }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
    }
    assert.equal(replayed, EXPECTED.length);
    assert.deepEqual(failures, []);
  });
});
