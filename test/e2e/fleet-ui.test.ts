// What an operator sees in the Temporal Web UI after a rollout halted on one failed device
// (headless Debian Chromium, as the pipeline's UI test): the workflows list marks the failed
// device's run and the halted wave Failed while the devices that validated stay Completed, and
// the deployment's own page says why the device failed. The device activities are replaced (the
// fleet workflow tests' stand-ins, named so): what is under test is how the runs close and show.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { startDeployment } from '../../clients/startDeployment';
import { deploymentWorkflowId, parseDeployRequest, type DeployRequestInput } from '../../common/request';
import { freePort } from '../../sim/net';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import { StandInFleet, sha, type Scenario } from '../../sim/standIns';
import { rejectSignal, statusQuery } from '../../workflows/messages';
import { launchChromium } from './temporalUi';
import { createStandInFleetWorkers } from '../helpers/standInFleetWorkers';

const DEVICES = ['ui-01', 'ui-02', 'ui-03', 'ui-04'];
const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');

describe('the Temporal UI after a halted fleet rollout (Chromium)', function () {
  this.timeout(240_000);
  let env: TestWorkflowEnvironment;
  let uiUrl: string;
  const workers: Worker[] = [];
  const running: Array<Promise<unknown>> = [];
  const fleet = new StandInFleet(DEVICES);

  before(async function () {
    this.timeout(120_000);
    quietSdkLogs();
    const uiPort = await freePort();
    env = await startTestTemporal({ ui: true, uiPort });
    uiUrl = `http://127.0.0.1:${uiPort}`;
    workers.push(...(await createStandInFleetWorkers(env, fleet, DEVICES, { gateVersions: true })));
    for (const w of workers) running.push(w.run());
  });

  after(async function () {
    this.timeout(60_000);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(running);
    await env?.teardown();
  });

  /** Starts a rollout of a stand-in model over DEVICES as `edgeship start` would; returns its id. */
  async function startRollout(name: string, approval: DeployRequestInput['approval'], rollout: DeployRequestInput['rollout'], scenario: Scenario): Promise<string> {
    const checkpointPath = `/checkpoints/${name}.pt`;
    const request = parseDeployRequest({ modelName: name, source: { kind: 'checkpoint', checkpointPath }, sourceSha256: sha(checkpointPath), target: 'cpu-int8', devices: DEVICES, approval, rollout });
    const id = deploymentWorkflowId(name, request.target, sha(checkpointPath));
    fleet.scenario(id, scenario);
    await startDeployment(env.client, request);
    return id;
  }

  it('lists the failed device and the halted wave as Failed, the validated devices as Completed, and the parent names the reason', async () => {
    const id = await startRollout('ui-halt', { required: false }, { canary: ['ui-01'], waves: [3], maxParallel: 1, halt: { maxFailed: 0 }, onHalt: 'keep-validated' }, { validationFailsOnDevices: ['ui-03'] });
    await assert.rejects(env.client.workflow.getHandle(id).result(), WorkflowFailedError);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const query = `WorkflowId STARTS_WITH "${id}"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
      await page.locator(`a:has-text("${id}.ui-03")`).first().waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-fleet-list.png'), fullPage: true });
      /** The list row's text for one workflow id: its status is a word in it. */
      const rowOf = async (workflowId: string): Promise<string> => {
        const row = page.locator('tr', { has: page.locator(`a:text-is("${workflowId}")`) }).first();
        return (await row.innerText()).replace(/\s+/g, ' ');
      };
      assert.match(await rowOf(`${id}.ui-03`), /\bfailed\b/i, 'the failed device');
      assert.match(await rowOf(`${id}.wave-1`), /\bfailed\b/i, 'the halted wave');
      assert.match(await rowOf(id), /\bfailed\b/i, 'the deployment');
      assert.match(await rowOf(`${id}.ui-02`), /\bcompleted\b/i, 'a validated device');
      assert.match(await rowOf(`${id}.canary`), /\bcompleted\b/i, 'the canary wave');

      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`, { waitUntil: 'networkidle' });
      await page.getByRole('heading', { name: id }).first().waitFor({ timeout: 30_000 });
      // Where the operator lands: the closing failure says which device failed and why.
      const landing = page.getByText(/ui-03 failed at validate: ValidationGateFailed: validation failed on ui-03/).first();
      try {
        await landing.waitFor({ timeout: 30_000 });
      } finally {
        await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-fleet-run.png'), fullPage: true });
      }
      // The run's details (User Metadata) list the failed device with its reason, apart from the validated ones.
      await page.getByText('User Metadata', { exact: true }).first().click();
      // The details come from a query to the worker, rendered (Markdown) in a frame of their own.
      /** Every list item's text across the page and its frames, whitespace folded. */
      const listItems = async (): Promise<string[]> => {
        const all: string[] = [];
        for (const frame of page.frames()) all.push(...(await frame.locator('li').allInnerTexts().catch(() => [])));
        return all.map((t) => t.replace(/\s+/g, ' ').trim());
      };
      let items: string[] = [];
      try {
        for (const deadline = Date.now() + 60_000; !(items = await listItems()).some((t) => t.startsWith('ui-04:')); ) {
          if (Date.now() > deadline) assert.fail(`the details never showed ui-04: ${JSON.stringify(items)}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-fleet-details.png'), fullPage: true });
      }
      // Rendered as a list (no literal "- "): each device its own item, the reason's ">" as ">",
      // and the lines after the list not swallowed by its last item.
      const item = (prefix: string): string => items.find((t) => t.startsWith(prefix)) ?? assert.fail(`no list item ${prefix}: ${JSON.stringify(items)}`);
      assert.match(item('ui-03:'), /^ui-03: restored \(serves [0-9a-f]+ ?\) — failed at validate: ValidationGateFailed: validation failed on ui-03: p95 latency 180 ms > 50 ms$/);
      assert.equal(item('ui-04:'), 'ui-04: not-reached');
      assert.match(item('wave-1'), /^wave-1 \(3\): halted · 1 validated · 1 failed · 0 offline$/);
      const shown = (await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')))).join('\n');
      assert.doesNotMatch(shown, /&gt;|- ui-0|- canary/);
    } finally {
      await browser.close();
    }
  });

  it('shows how to approve on the run page an operator lands on, while the rollout waits after its canary', async () => {
    const id = await startRollout('ui-approval', { required: true, timeout: '10m' }, { canary: ['ui-01'], waves: [3], maxParallel: 1, baselineDevices: 0 }, {});
    const handle = env.client.workflow.getHandle(id);
    for (const deadline = Date.now() + 60_000; (await handle.query(statusQuery)).status !== 'awaiting-approval'; ) {
      if (Date.now() > deadline) assert.fail('the rollout never waited for approval');
      await new Promise((r) => setTimeout(r, 200));
    }
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      // A running run's page keeps polling: wait for its heading, not for an idle network.
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`, { waitUntil: 'domcontentloaded' });
      await page.getByRole('heading', { name: id }).first().waitFor({ timeout: 30_000 });
      const how = page.getByText(`to approve: edgeship approve ${id} --by <you>`).first();
      try {
        await how.waitFor({ timeout: 30_000 });
      } finally {
        await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-awaiting-approval.png'), fullPage: true });
      }
      assert.ok(await how.isVisible(), 'the approval command is visible without opening a tab');
      const box = await how.boundingBox();
      assert.ok(box && box.x + box.width <= 1400, `the whole command is on screen, not cut at the edge: ${JSON.stringify(box)}`);
    } finally {
      await browser.close();
      await handle.signal(rejectSignal, { by: 'ui-test', reason: 'only looking' });
      await assert.rejects(handle.result(), WorkflowFailedError);
    }
  });
});
