// A fleet rollout of a signed release on a real Temporal dev server: the real GPU worker
// (createGpuWorker with --release-key's signer: the real compileModel signs, the real pushArtifact
// stages over SFTP to OpenSSH devices) and real edge workers whose devices check signatures.
// Replaced activities (no PyTorch here): exportModel and buildCalibrationSet hand over a real
// tiny ONNX encoder and a calibration file committed to the store; preflightModel returns fixed
// figures. The canary trusts the release key and installs the release; the second device trusts
// only another key, so it refuses the release on the device (SignatureInvalid): it counts as
// failed, the halt rule (maxFailed 0) stops the rollout and the canary is reverted to its older
// release (a run's own restore is never refused as a downgrade). A plain deployment of the same
// source then shows the signing on the approval screen and reuses the manifest's sequence.
// Then every event of every workflow of these runs is decoded and searched for the private key.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { waitForServedSha } from '../../activities/edge/health';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { loadReleaseSigner } from '../../activities/gpu/releaseKey';
import { awaitFinalReport } from '../../clients/deploymentState';
import { startDeployment } from '../../clients/startDeployment';
import type { CalibrationInput, ExportModelInput, ExportModelResult } from '../../common/contracts';
import { parseDeployRequest } from '../../common/request';
import { loadDeviceTrust } from '../../edge/trust';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { createEdgeWorker } from '../../workers/edgeWorker';
import { createGpuWorker } from '../../workers/gpuWorker';
import { renderStatus } from '../../clients/format';
import { approveSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentStatus } from '../../workflows/report';
import { buildTestModels } from '../helpers/edgeModels';
import { makeTestKey, relabelledModel, signTestRelease, type TestKey } from '../helpers/releaseKeys';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import { StandInFleet } from '../../sim/standIns';

const MODEL = 'tcn-signed';

/** Every string and every byte array in a decoded history (payload data included), recursively. */
function collect(value: unknown, strings: string[], bytes: Buffer[]): void {
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value);
    bytes.push(b);
    strings.push(b.toString('utf8'));
  } else if (typeof value === 'string') {
    strings.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, strings, bytes);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) collect(v, strings, bytes);
  }
}

describe('signed releases through the workflows (real dev server, GPU and edge workers, SFTP devices)', function () {
  this.timeout(300_000);
  let env: TestWorkflowEnvironment;
  let fleet: SimulatedFleet;
  let work: string;
  let keyA: TestKey;
  let keyB: TestKey;
  const workers: Worker[] = [];
  const running: Array<Promise<void>> = [];
  // Set by the first test, used by the next ones.
  let request: ReturnType<typeof parseDeployRequest>;
  let candidateSha = '';

  before(async function () {
    this.timeout(180_000);
    quietSdkLogs();
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-signed-rollout-'));
    [keyA, keyB] = [makeTestKey('rollout-a'), makeTestKey('rollout-b')];
    env = await startTestTemporal();
  });

  after(async function () {
    this.timeout(60_000);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(running);
    await fleet?.stop();
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
    for (const k of [keyA, keyB]) if (k) await rm(path.dirname(k.privateKeyPath), { recursive: true, force: true });
  });

  it('the canary installs the signed release, the device that does not trust its key refuses it, the halt reverts the canary', async () => {
    const storeDir = path.join(work, 'store');
    const store = new ArtifactStore(storeDir);
    const { good } = await buildTestModels('tiny');
    assert.ok(good);
    // What the devices serve first: signed with A, sequence 1 of this model name.
    const old = relabelledModel(good, work, 'signed rollout: the old release');
    const oldManifest = await signTestRelease(storeDir, keyA, old, MODEL);
    assert.equal(oldManifest.sequence, 1);
    // The candidate the (replaced) export hands over: committed to the store like a real export.
    const candidate = relabelledModel(good, work, 'signed rollout: the candidate');
    const onnx = await store.commitFile(candidate.path, `${MODEL}.onnx`);
    await copyFile(candidate.metadataPath, `${onnx.path}.meta.json`);
    const calibrationFile = path.join(work, 'calibration.npy');
    writeFileSync(calibrationFile, randomBytes(4096));
    const calibrationSet = await store.commitFile(calibrationFile, 'calibration.npy');
    const checkpoint = path.join(work, 'checkpoint.pt');
    writeFileSync(checkpoint, randomBytes(1024));
    const checkpointSha = createHash('sha256').update(readFileSync(checkpoint)).digest('hex');

    fleet = await startSimulatedFleet({
      count: 2,
      ids: ['sig-canary', 'sig-other'],
      baseDir: path.join(work, 'fleet'),
      sshServer: 'openssh',
      baseline: { modelPath: old.path, metadataPath: old.metadataPath, manifestPath: oldManifest.manifestPath },
      trust: { publicKeyFiles: [keyA.publicKeyPath], requireSignatures: true },
    });
    const [canary, other] = fleet.devices;
    for (const d of fleet.devices) await waitForServedSha({ healthUrl: d.spec.healthUrl, sha256: old.sha256, timeoutMs: 60_000 });

    const replaced = new StandInFleet([canary.id, other.id]).gpuActivities();
    const gpu = await createGpuWorker({
      inventory: fleet.inventory,
      connection: env.nativeConnection,
      modelActivityOptions: { storeDir, releaseSigner: loadReleaseSigner(keyA.privateKeyPath) },
      ownership: { holderCheckIntervalMs: 500 },
      activities: {
        // Replaced (no PyTorch): the export is the committed tiny encoder, the calibration set a committed file.
        exportModel: async (input: ExportModelInput): Promise<ExportModelResult> => ({
          onnx,
          metadataPath: `${onnx.path}.meta.json`,
          parity: { minCosine: 1, maxAbsDiff: 0, maxRelativeError: 0, probes: [], gate: input.parityMinCosine ?? 0.9999 },
          sourceSha256: checkpointSha,
          durationMs: 1,
          reused: false,
        }),
        buildCalibrationSet: async (input: CalibrationInput) => ({ ...(await replaced.buildCalibrationSet(input)), calibrationSet }),
        preflightModel: replaced.preflightModel,
        compareWithServed: replaced.compareWithServed,
      },
    });
    const trusts = { [canary.id]: [keyA], [other.id]: [keyB] };
    const edges = await Promise.all(fleet.devices.map((d) => createEdgeWorker({
      device: d.spec,
      connection: env.nativeConnection,
      activityOptions: { pollIntervalMs: 100, trust: loadDeviceTrust({ publicKeyFiles: trusts[d.id].map((k) => k.publicKeyPath), requireSignatures: true }) },
    })));
    for (const h of [gpu, ...edges]) {
      workers.push(h.worker);
      running.push(h.run());
    }

    request = parseDeployRequest({
      modelName: MODEL,
      source: { kind: 'checkpoint', checkpointPath: checkpoint },
      target: 'cpu-fp32',
      devices: [canary.id, other.id],
      approval: { required: false },
      gates: { p95LatencyMs: 5000, minThroughputRps: 1 },
      validation: { latencyRequests: 100, concurrency: 2, throughputDurationMs: 500 },
      edge: { healthTimeoutMs: 30_000 },
      rollout: { canary: [canary.id], waves: [1], maxParallel: 1, halt: { maxFailed: 0 }, baselineDevices: 0 },
    });
    const { workflowId } = await startDeployment(env.client, request);
    const { report } = await awaitFinalReport(env.client, workflowId);
    candidateSha = onnx.sha256;

    // The release was signed at compile with A, the next sequence of this model name.
    assert.deepEqual(report.release && { signed: report.release.signed, keyId: report.release.signed && report.release.keyId, sequence: report.release.signed && report.release.sequence }, { signed: true, keyId: keyA.keyId, sequence: 2 });
    const rows = Object.fromEntries((report.rollout?.devices ?? []).map((r) => [r.deviceId, r]));
    assert.equal(rows[canary.id]?.outcome, 'validated', JSON.stringify(rows[canary.id]));
    assert.equal(rows[other.id]?.outcome, 'failed', JSON.stringify(rows[other.id]));
    assert.equal(rows[other.id].failedStep, 'swap');
    assert.match(rows[other.id].error ?? '', new RegExp(`^SignatureInvalid: .*unknown-key: signed by ${keyA.keyId}`));
    assert.match(report.rollout?.halted?.reason ?? '', /failed/, 'the halt rule applied');
    assert.equal(rows[canary.id].revert, 'reverted', 'the canary was reverted to its older release');
    // Both devices serve the old, signed release again; nothing of the candidate is staged on the refusing one.
    for (const d of fleet.devices) {
      const h = (await (await fetch(d.spec.healthUrl)).json()) as { sha256?: string; release_sequence?: number };
      assert.deepEqual([h.sha256, h.release_sequence], [old.sha256, 1], d.id);
    }
    assert.deepEqual((await readdir(path.join(other.spec.modelDir, 'staging'))).filter((f) => f.startsWith(onnx.sha256)), []);
  });

  it('a plain deployment: the approval screen shows the signing; the re-run compile reuses manifest and sequence; the device reports its check', async () => {
    const canary = fleet.devices[0];
    const plain = parseDeployRequest({ ...request, devices: [canary.id], rollout: undefined, approval: { required: true, timeout: '10m' } });
    const { handle, workflowId } = await startDeployment(env.client, plain);
    let status: DeploymentStatus;
    const deadline = Date.now() + 120_000;
    for (;;) {
      status = await handle.query(statusQuery);
      if (status.awaiting || status.finished) break;
      assert.ok(Date.now() < deadline, `no approval wait after 120 s (stage ${status.stage})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(status.awaiting, `ended before the approval: ${JSON.stringify(status.failure)}`);
    const screen = renderStatus(status);
    assert.match(screen, new RegExp(`release: signed by ${keyA.keyId}, sequence 2 `), screen);
    assert.doesNotMatch(screen, /allowDowngrade/);
    await handle.signal(approveSignal, { by: 'signing-test' });
    const { report, executionStatus } = await awaitFinalReport(env.client, workflowId);
    assert.equal(executionStatus, 'COMPLETED', JSON.stringify(report.failure));
    assert.equal(report.release?.signed && report.release.sequence, 2, 'the same compile reuses its manifest: no new sequence');
    assert.deepEqual(report.devices[0].release, { signed: true, keyId: keyA.keyId, modelName: MODEL, sequence: 2 });
    const h = (await (await fetch(canary.spec.healthUrl)).json()) as { sha256?: string; release_sequence?: number; release_key_id?: string };
    assert.deepEqual([h.sha256, h.release_sequence, h.release_key_id], [candidateSha, 2, keyA.keyId]);
  });

  it('no event of any workflow of these runs holds the private key or its path', async () => {
    const pem = readFileSync(keyA.privateKeyPath, 'utf8');
    const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
    const seed = der.subarray(der.length - 32); // the raw Ed25519 private key
    const pemBody = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const forbiddenText = [pem.trim(), pemBody, der.toString('base64'), seed.toString('hex'), seed.toString('base64'), seed.toString('base64url'), keyA.privateKeyPath];
    let events = 0;
    let workflows = 0;
    let sawKeyId = false;
    for await (const wf of env.client.workflow.list()) {
      workflows += 1;
      const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      for (const event of history.events ?? []) {
        events += 1;
        const strings: string[] = [];
        const bytes: Buffer[] = [];
        collect(event, strings, bytes);
        const text = strings.join('\n');
        for (const f of forbiddenText) assert.ok(!text.includes(f), `${wf.workflowId} event ${String(event.eventId)} holds private key material`);
        for (const b of bytes) assert.equal(b.indexOf(seed), -1, `${wf.workflowId} event ${String(event.eventId)} holds the raw private key`);
        if (text.includes(keyA.keyId)) sawKeyId = true;
      }
    }
    assert.ok(workflows >= 5, `the parent, its waves, device rollouts and owners were searched (${workflows})`);
    assert.ok(events > 100, `${events} events decoded`);
    assert.ok(sawKeyId, 'the decoded payloads are searchable: the public key id is found in them');
  });
});
