// Replays the stored histories of deployModel runs (test/histories/v*/*.json, recorded by
// `RECORD_HISTORIES=1 npx mocha test/workflow/deployModel.test.ts`) and of fleet rollouts with
// their wave and device workflows (test/histories/fleet/, `RECORD_HISTORIES=1 npx mocha
// test/workflow/fleetRollout.test.ts`) and of device owners (test/histories/owner/, deviceOwner.test.ts) against the current workflow code. A change that would make a running deployment take a different path fails here: guard it
// with patched() instead (per-device workflows: a code in their input, docs/develop.md).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { quietSdkLogs } from '../helpers/temporalEnv';
import { historyFromJSON } from '../helpers/historyJson';

const HISTORY_ROOT = path.resolve(__dirname, '..', 'histories');
/**
 * The paths deployModel.test.ts records; each must stay replayable. v1: runs from before device
 * ownership (they take the unpatched path); v2: runs with leases, run-scoped device state and
 * typed closing failures.
 */
const PATHS = ['approve-signal', 'approve-update', 'reject', 'approval-timeout', 'target-mismatch', 'swap-fails', 'validation-fails', 'worker-lost', 'cancel-awaiting', 'cancel-after-swap'];
/** Fleet rollouts (fleetRollout.test.ts): `<path>--<workflow>`, the deployment and some of its waves and devices. */
const FLEET = [
  'canary-fails--deployment', 'canary-fails--canary', 'canary-fails--f-01',
  'halt-revert-all--deployment', 'halt-revert-all--canary', 'halt-revert-all--wave-1', 'halt-revert-all--wave-2', 'halt-revert-all--revert', 'halt-revert-all--f-05', 'halt-revert-all--f-02.revert',
  'halt-keep-validated--deployment', 'halt-keep-validated--wave-2',
  'offline-skip--deployment', 'offline-skip--f-off',
  'offline-catch-up--deployment', 'offline-catch-up--catch-up', 'offline-catch-up--f-off.catch-up',
  'approve-each-wave--deployment', 'reject-after-canary--deployment', 'reject-after-canary--revert',
  'soak-degrades--deployment', 'soak-degrades--f-03',
  'cancel-mid-wave--deployment', 'cancel-mid-wave--wave-1', 'cancel-mid-wave--f-03',
  // A failed device and a halted wave close Failed (edgeship-fleet-failed-children-close-failed).
  'culprit-red--deployment', 'culprit-red--canary', 'culprit-red--wave-1', 'culprit-red--f-03', 'culprit-red--f-02',
  // Leases of finished devices go back before a catch-up (edgeship-fleet-catch-up-releases-early).
  'catch-up-releases--deployment', 'catch-up-releases--catch-up',
  // Paused mid-wave (the wave told by signal), then resumed.
  'pause-resume--deployment', 'pause-resume--wave-1',
  // Device children told their code by the wave (DEVICE_ROLLOUT_CODE 1): no patch markers.
  'culprit-red-coded--deployment', 'culprit-red-coded--canary', 'culprit-red-coded--wave-1', 'culprit-red-coded--f-03', 'culprit-red-coded--f-02',
  // A wave wider than its start window (edgeship-wave-start-window): at most 10 child starts at a time.
  'start-window--deployment', 'start-window--wave-1',
];
/** Device owners (deviceOwner.test.ts): started without a code (patch marker, held/idle status) and with DEVICE_OWNER_CODE 1. */
const OWNER = ['uncoded', 'coded'];
const EXPECTED: Record<string, string[]> = {
  v1: PATHS,
  v2: [...PATHS, 'queued-behind-holder', 'rerun-rolls-back-to-own-backup', 'swap-fails-before-switch', 'preflight-fails', 'drift-fails'],
  fleet: FLEET,
  owner: OWNER,
};

function loadHistories(version: string): Array<{ workflowId: string; history: ReturnType<typeof historyFromJSON> }> {
  const dir = path.join(HISTORY_ROOT, version);
  // Fleet histories replay under their recorded ids: a rollout derives its children's ids from its own.
  const idsFile = path.join(dir, 'workflow-ids.json');
  const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'workflow-ids.json').sort();
  assert.deepEqual(files.map((f) => path.basename(f, '.json')).sort(), [...EXPECTED[version]].sort(), `${version}: a recorded path is missing or unknown`);
  const histories = files.map((f) => {
    const name = path.basename(f, '.json');
    return { workflowId: ids[name] ?? `${version}/${name}`, history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))) };
  });
  for (const h of histories) assert.ok((h.history.events?.length ?? 0) > 5, `${h.workflowId} has events`);
  return histories;
}

describe('deployModel replay (stored histories)', function () {
  this.timeout(120_000);

  for (const version of Object.keys(EXPECTED)) {
    it(`replays every recorded ${version} path without a nondeterminism error`, async () => {
      quietSdkLogs();
      const histories = loadHistories(version);
      const failures: string[] = [];
      let replayed = 0;
      for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows') }, histories)) {
        replayed++;
        if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
      }
      assert.equal(replayed, EXPECTED[version].length);
      assert.deepEqual(failures, []);
    });
  }
});
