// The CLI's fleet-rollout output (clients/fleetFormat.ts, clients/format.ts): waves, halt verdict,
// canary comparison, per-device table (summarised above 50 devices), watch updates, and the
// `list --device` query and folding — all pure, no Temporal.
import assert from 'node:assert/strict';
import type { CanaryComparison, FleetDeviceRow, RolloutReport, WaveCounts, WaveReport, WaveStatus } from '../../common/rollout';
import type { DeploymentStatus } from '../../workflows/report';
import {
  BIG_FLEET,
  childMode,
  countsLine,
  deploymentIdFromChild,
  deviceRuns,
  deviceTable,
  listQuery,
  newRolloutWatchState,
  outcomeCounts,
  renderDeviceRuns,
  renderRollout,
  rolloutUpdates,
  updateLines,
  type ListedExecution,
} from '../../clients/fleetFormat';
import { renderStatus } from '../../clients/format';

const ID = 'deploy-tcn-vae-cpu-int8-3fa2c1d09b7e';
const SHA = '9c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455';

function counts(partial: Partial<WaveCounts> & { total: number }): WaveCounts {
  return { pending: 0, running: 0, validated: 0, failed: 0, skipped: 0, reverted: 0, cancelled: 0, ...partial };
}

function wave(name: string, index: number, state: WaveReport['state'], devices: string[], c: WaveCounts, extra: Partial<WaveReport> = {}): WaveReport {
  return { name, index, mode: 'deploy', workflowId: `${ID}.${name}`, state, devices, counts: c, ...extra };
}

const figures = (p95Ms: number, rps: number) => ({ servedSha256Prefix: SHA.slice(0, 16), p50Ms: p95Ms / 2, p95Ms, p99Ms: p95Ms * 1.5, rps, minReferenceCosine: 0.9991 });

function rollout(partial: Partial<RolloutReport>): RolloutReport {
  return {
    plan: {
      canary: ['pi-01'],
      waves: [{ name: 'wave-1', devices: ['pi-02', 'pi-03', 'pi-04', 'pi-05'] }],
      maxParallel: 2,
      soakMs: 30_000,
      halt: { maxFailed: 1, minDoneForPercent: 10, countOffline: false },
      onHalt: 'keep-validated',
      approval: 'after-canary',
      offline: 'skip',
    },
    waves: [],
    tally: { done: 0, failed: 0, offline: 0 },
    devices: [],
    ...partial,
  };
}

function status(r: RolloutReport, partial: Partial<DeploymentStatus> = {}): DeploymentStatus {
  return {
    schema: 'edgeship.report/1',
    deploymentId: ID,
    runId: 'run-1',
    modelName: 'tcn-vae',
    target: 'cpu-int8',
    status: 'running',
    stage: 'rollout',
    startedAt: '2025-05-01T10:00:00.000Z',
    stages: [],
    devices: [],
    compensations: [],
    ignoredMessages: [],
    finished: false,
    rollout: r,
    ...partial,
  };
}

// A rollout halted in wave-1: two devices failed (more than maxFailed 1), two validated were kept.
const halted = rollout({
  waves: [
    wave('canary', 0, 'done', ['pi-01'], counts({ total: 1, validated: 1 }), { approval: { decision: 'approved', by: 'alice', at: '2025-05-01T10:05:00.000Z' } }),
    wave('wave-1', 1, 'halted', ['pi-02', 'pi-03', 'pi-04', 'pi-05'], counts({ total: 4, validated: 1, failed: 2, pending: 1 })),
  ],
  tally: { done: 4, failed: 2, offline: 0 },
  halted: { wave: 'wave-1', reason: '2 devices failed, more than maxFailed 1', tally: { done: 4, failed: 2, offline: 0 } },
  devices: [
    { deviceId: 'pi-01', wave: 'canary', outcome: 'validated', servedSha256Prefix: SHA.slice(0, 16), figures: figures(4.2, 240.3) },
    { deviceId: 'pi-02', wave: 'wave-1', outcome: 'validated', servedSha256Prefix: SHA.slice(0, 16), figures: figures(4.4, 231) },
    {
      deviceId: 'pi-03',
      wave: 'wave-1',
      outcome: 'failed',
      failedStep: 'validate',
      error: 'ValidationFailed: p95 latency 31.2 ms above the gate 20 ms',
      servedSha256Prefix: 'aaaabbbbccccdddd',
      restore: { outcome: 'restored', restoredSha256: 'aaaabbbbccccdddd0000' },
    },
    {
      deviceId: 'pi-04',
      wave: 'wave-1',
      outcome: 'failed-unrestored',
      failedStep: 'swap',
      error: 'SwapFailed: runtime did not come back healthy',
      servedSha256Prefix: null,
    },
    { deviceId: 'pi-05', wave: 'wave-1', outcome: 'not-reached' },
  ],
});

describe('fleet format: a halted rollout', () => {
  const text = renderRollout(halted).join('\n');

  it('shows the plan, each wave with its counts, and the halt verdict', () => {
    assert.match(text, /^rollout: canary pi-01 · waves wave-1 \(4\) · maxParallel 2 · soak 30\.0 s · halts on more than 1 failed · onHalt keep-validated · approval after-canary · offline skip$/m);
    assert.match(text, /^ {2}canary: done · 1 validated · 0 running · 0 failed · 0 skipped-offline · 0 reverted · 0 pending \(of 1\) · approved by alice$/m);
    assert.match(text, /^ {2}wave-1: halted · 1 validated · 0 running · 2 failed · 0 skipped-offline · 0 reverted · 1 pending \(of 4\)$/m);
    assert.match(text, /^ {2}tally: 4 done, 2 failed, 0 offline$/m);
    assert.match(text, /^ {2}HALTED in wave-1: 2 devices failed, more than maxFailed 1 — tally 4 done, 2 failed, 0 offline; onHalt keep-validated$/m);
  });

  it('lists every device of a small fleet with wave, outcome, failed step, sha, p95/rps and the undo', () => {
    const lines = text.split('\n').map((l) => l.trim());
    assert.ok(lines.includes('devices (5):'));
    const header = lines.find((l) => l.startsWith('DEVICE'));
    assert.ok(header);
    assert.match(header, /^DEVICE +WAVE +OUTCOME +FAILED STEP +SERVES +P95 \/ REQ\/S +REVERT +CAME BACK +NOTE$/);
    const row = (id: string): string[] => (lines.find((l) => l.startsWith(`${id} `)) ?? '').split(/ {2,}/);
    assert.deepEqual(row('pi-01'), ['pi-01', 'canary', 'validated', '—', SHA.slice(0, 12), '4.20 ms / 240.3', '—', '—']);
    // A clean undo after the failure is the expected one: only the error is noted.
    assert.deepEqual(row('pi-03'), ['pi-03', 'wave-1', 'failed', 'validate', 'aaaabbbbcccc', '—', '—', '—', 'ValidationFailed: p95 latency 31.2 ms above the gate 20 ms']);
    assert.deepEqual(row('pi-04'), ['pi-04', 'wave-1', 'failed-unrestored', 'swap', 'none', '—', '—', '—', 'SwapFailed: runtime did not come back healthy']);
    assert.deepEqual(row('pi-05'), ['pi-05', 'wave-1', 'not-reached', '—', '—', '—', '—', '—']);
  });

  it('notes a restore other than the plain undo of a failure (where a revert put the device)', () => {
    const [, row] = deviceTable([{ deviceId: 'pi-09', wave: 'wave-1', outcome: 'validated', revert: 'reverted', restore: { outcome: 'restored', restoredSha256: 'bbbbccccddddeeee0000' } }]);
    assert.match(row, /^pi-09 +wave-1 +validated +— +— +— +reverted +— +restore restored → bbbbccccdddd$/);
  });

  it('renderStatus shows the rollout instead of the per-device phases', () => {
    const out = renderStatus(status(halted, { status: 'halted', stage: 'done', finished: true, devices: [{ deviceId: 'pi-01', phase: 'validated' }] }));
    assert.match(out, /HALTED {2}\(stage done\)/);
    assert.match(out, /^ {4}HALTED in wave-1: 2 devices failed/m);
    assert.match(out, /^ {4}pi-04 +wave-1 +failed-unrestored/m);
    assert.doesNotMatch(out, /^ {2}devices:$/m);
    assert.doesNotMatch(out, /pi-01: validated/);
  });

  it('watch prints each wave once, the non-validated devices, and the halt once', () => {
    const state = newRolloutWatchState();
    const lines = updateLines(rolloutUpdates(state, status(halted, { status: 'halted', finished: true })));
    assert.deepEqual(lines, [
      '  wave canary: done · 1 validated · 0 running · 0 failed · 0 skipped-offline · 0 reverted · 0 pending (of 1)',
      '  wave wave-1: halted · 1 validated · 0 running · 2 failed · 0 skipped-offline · 0 reverted · 1 pending (of 4)',
      '    ✘ pi-03 (wave-1): failed at validate — ValidationFailed: p95 latency 31.2 ms above the gate 20 ms',
      '    ✘ pi-04 (wave-1): failed-unrestored at swap — SwapFailed: runtime did not come back healthy',
      '  HALTED in wave-1: 2 devices failed, more than maxFailed 1 — tally 4 done, 2 failed, 0 offline; onHalt keep-validated',
    ]);
    assert.deepEqual(rolloutUpdates(state, status(halted, { status: 'halted', finished: true })), []);
  });
});

describe('fleet format: a running wave, read live', () => {
  const running = rollout({
    plan: { ...halted.plan, halt: { maxFailedPercent: 10, minDoneForPercent: 10, countOffline: false } },
    waves: [
      wave('canary', 0, 'done', ['pi-01'], counts({ total: 1, validated: 1 })),
      // The parent's report counts a wave when it ends: all pending until then.
      wave('wave-1', 1, 'running', ['pi-02', 'pi-03', 'pi-04', 'pi-05'], counts({ total: 4, pending: 4 })),
    ],
    tally: { done: 1, failed: 0, offline: 0 },
    devices: [{ deviceId: 'pi-01', wave: 'canary', outcome: 'validated' }],
  });
  const live = (over: Partial<WaveStatus>): WaveStatus => ({
    name: 'wave-1',
    mode: 'deploy',
    counts: counts({ total: 4, validated: 1, running: 2, skipped: 1 }),
    tally: { done: 2, failed: 0, offline: 1 },
    haltFigure: '0 of 2 done failed (0.0 %), halts above 10 % once 10 are done',
    running: ['pi-03', 'pi-04'],
    devices: [
      { deviceId: 'pi-02', outcome: 'validated' },
      { deviceId: 'pi-05', outcome: 'skipped-offline' },
    ],
    ...over,
  });

  it('watch shows the live counts and the halt figure of the running wave, and only what changed after', () => {
    const state = newRolloutWatchState();
    const first = updateLines(rolloutUpdates(state, status(running), { 'wave-1': live({}) }));
    assert.deepEqual(first, [
      '  wave canary: done · 1 validated · 0 running · 0 failed · 0 skipped-offline · 0 reverted · 0 pending (of 1)',
      '  wave wave-1: running [live] · 1 validated · 2 running · 0 failed · 1 skipped-offline · 0 reverted · 0 pending (of 4) · halt figure: 0 of 2 done failed (0.0 %), halts above 10 % once 10 are done',
      '    ✘ pi-05 (wave-1): skipped-offline',
    ]);
    assert.deepEqual(rolloutUpdates(state, status(running), { 'wave-1': live({}) }), [], 'nothing changed');
    const next = live({
      counts: counts({ total: 4, validated: 2, running: 0, failed: 1, skipped: 1 }),
      haltFigure: '1 of 3 done failed (33.3 %), halts above 10 % once 10 are done',
      running: [],
      devices: [...live({}).devices, { deviceId: 'pi-03', outcome: 'validated' }, { deviceId: 'pi-04', outcome: 'failed', failedStep: 'soak' }],
    });
    const updates = rolloutUpdates(state, status(running), { 'wave-1': next });
    assert.deepEqual(updates.map((u) => u.type), ['wave', 'device']);
    assert.deepEqual(updateLines(updates), [
      '  wave wave-1: running [live] · 2 validated · 0 running · 1 failed · 1 skipped-offline · 0 reverted · 0 pending (of 4) · halt figure: 1 of 3 done failed (33.3 %), halts above 10 % once 10 are done',
      '    ✘ pi-04 (wave-1): failed at soak',
    ]);
    // JSON lines carry the same, machine-readable.
    assert.deepEqual(JSON.parse(JSON.stringify(updates[0])), {
      type: 'wave', deploymentId: ID, wave: 'wave-1', mode: 'deploy', state: 'running', live: true,
      counts: { total: 4, pending: 0, running: 0, validated: 2, failed: 1, skipped: 1, reverted: 0, cancelled: 0 },
      haltFigure: '1 of 3 done failed (33.3 %), halts above 10 % once 10 are done', running: [],
    });
  });

  it('status shows the live counts, the halt figure and the devices in flight under the running wave', () => {
    const text = renderRollout(running, { live: { 'wave-1': live({}) } }).join('\n');
    assert.match(text, /^ {2}wave-1: running \[live\] · 1 validated · 2 running · 0 failed · 1 skipped-offline · 0 reverted · 0 pending \(of 4\)$/m);
    assert.match(text, /^ {4}halt figure: 0 of 2 done failed \(0\.0 %\), halts above 10 % once 10 are done$/m);
    assert.match(text, /^ {4}in flight: pi-03, pi-04$/m);
    // Without the live answer the parent's counts stand.
    assert.match(renderRollout(running).join('\n'), /^ {2}wave-1: running · 0 validated · 0 running · 0 failed · 0 skipped-offline · 0 reverted · 4 pending \(of 4\)$/m);
  });

  it('counts: cancelled only when there are some', () => {
    assert.equal(countsLine(counts({ total: 2000, validated: 1500, cancelled: 3, pending: 497 })), '1,500 validated · 0 running · 0 failed · 0 skipped-offline · 0 reverted · 497 pending · 3 cancelled (of 2,000)');
  });
});

describe('fleet format: the canary comparison while awaiting approval', () => {
  const comparison: CanaryComparison = {
    canary: [{ deviceId: 'pi-01', ...figures(4, 250) }],
    baseline: [
      { deviceId: 'pi-02', servedSha256Prefix: 'aaaabbbbccccdddd', p50Ms: 2, p95Ms: 5, p99Ms: 7, rps: 200 },
      { deviceId: 'pi-03', error: 'ServingUnreachable: connect ECONNREFUSED' },
    ],
    ratios: { p95Ms: 0.8, rps: 1.25 },
    notes: ['pi-03 was not measured'],
  };
  const r = rollout({
    waves: [wave('canary', 0, 'done', ['pi-01'], counts({ total: 1, validated: 1 })), wave('wave-1', 1, 'awaiting-approval', ['pi-02', 'pi-03'], counts({ total: 2, pending: 2 }))],
    tally: { done: 1, failed: 0, offline: 0 },
    canaryComparison: comparison,
  });
  const awaiting = { decision: 'approve or reject' as const, since: '2025-05-01T10:04:00.000Z', deadline: '2025-05-02T10:04:00.000Z', how: [`edgeship approve ${ID} --by <you>`] };
  const s = status(r, { status: 'awaiting-approval', stage: 'approval', awaiting, decisionFigures: { artifact: { sha256: SHA, sizeBytes: 1 << 20, format: 'onnx', target: 'cpu-int8' }, stagedDevices: ['pi-01'], canaryComparison: comparison } });

  it('watch prints the table once when the approval after the canary starts', () => {
    const state = newRolloutWatchState();
    const lines = updateLines(rolloutUpdates(state, s));
    const at = lines.indexOf('  canary vs baseline (old model):');
    assert.ok(at > 0, lines.join('\n'));
    assert.ok(lines.slice(at + 1).every((l) => l.startsWith('    ')));
    assert.deepEqual(lines.slice(at + 1).map((l) => l.trim().replace(/ +/g, ' ')), [
      'DEVICE MODEL SERVES P50 P95 P99 REQ/S REF COS NOTE',
      `pi-01 canary ${SHA.slice(0, 12)} 2.00 ms 4.00 ms 6.00 ms 250.0 0.9991`,
      'pi-02 baseline aaaabbbbcccc 2.00 ms 5.00 ms 7.00 ms 200.0 —',
      'pi-03 baseline — — — — — — not measured: ServingUnreachable: connect ECONNREFUSED',
      'canary ÷ baseline (medians): p95 ×0.80, req/s ×1.25',
      'note: pi-03 was not measured',
    ]);
    assert.deepEqual(rolloutUpdates(state, s), []);
  });

  it('not after a later wave has run (every-wave approvals)', () => {
    const later = rollout({ ...r, waves: [r.waves[0], { ...r.waves[1], state: 'done' }, wave('wave-2', 2, 'awaiting-approval', ['pi-06'], counts({ total: 1, pending: 1 }))] });
    assert.ok(!rolloutUpdates(newRolloutWatchState(), status(later, { awaiting, decisionFigures: s.decisionFigures })).some((u) => u.type === 'canary-comparison'));
  });

  it('status shows it once, with the decision figures', () => {
    const out = renderStatus(s);
    assert.equal(out.split('canary vs baseline (old model):').length, 2, out);
    assert.match(out, /AWAITING APPROVAL[\s\S]*canary vs baseline \(old model\):\n {6}DEVICE/);
    // Computed from the medians when the report has no ratios.
    const noRatios = renderRollout({ ...r, canaryComparison: { ...comparison, ratios: undefined } }).join('\n');
    assert.match(noRatios, /canary ÷ baseline \(medians\): p95 ×0\.80, req\/s ×1\.25/);
  });
});

describe('fleet format: 2,000 devices, summarised', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `edge-${String(i + 1).padStart(4, '0')}`);
  const rows: FleetDeviceRow[] = ids.map((deviceId, i): FleetDeviceRow => {
    const wave = i < 5 ? 'canary' : i < 500 ? 'wave-1' : 'wave-2';
    if (i % 100 === 7 && i < 1207) return { deviceId, wave, outcome: 'failed', failedStep: 'validate', error: 'ValidationFailed: p95 above the gate', restore: { outcome: 'restored', restoredSha256: 'aa'.repeat(32) } };
    if (i % 50 === 11 && i < 1511) return { deviceId, wave, outcome: 'skipped-offline' };
    if (i >= 1992) return { deviceId, wave, outcome: 'not-reached' };
    if (i === 3) return { deviceId, wave, outcome: 'validated', cameBackAt: '2025-05-01T12:00:00.000Z', figures: figures(4, 250), revert: 'revert-failed' };
    return { deviceId, wave, outcome: 'validated', figures: figures(4, 250) };
  });
  const report = rollout({
    plan: { ...halted.plan, canary: ids.slice(0, 5), waves: [{ name: 'wave-1', devices: ids.slice(5, 500) }, { name: 'wave-2', devices: ids.slice(500) }] },
    waves: [
      wave('canary', 0, 'done', ids.slice(0, 5), counts({ total: 5, validated: 5 })),
      wave('wave-1', 1, 'done', ids.slice(5, 500), counts({ total: 495, validated: 480, failed: 5, skipped: 10 })),
      wave('wave-2', 2, 'halted', ids.slice(500), counts({ total: 1500, validated: 1460, failed: 7, skipped: 20, pending: 13 })),
    ],
    tally: { done: 1957, failed: 12, offline: 30 },
    devices: rows,
  });

  it('prints a count per outcome and only the devices that need a look', () => {
    const lines = renderRollout(report);
    assert.ok(rows.length > BIG_FLEET);
    assert.ok(lines.includes('2,000 devices: validated 1,950 · skipped-offline 30 · failed 12 · not-reached 8; revert: revert-failed 1'), lines.join('\n'));
    assert.ok(lines.includes('devices that need a look (51; 1,949 validated not shown — --all lists every device):'), lines.join('\n'));
    const table = lines.slice(lines.findIndex((l) => l.startsWith('  DEVICE')) + 1);
    assert.equal(table.length, 51);
    assert.ok(table.every((l) => !/ validated +— /.test(l) || l.includes('revert-failed')));
    // The validated device whose revert failed needs a look too.
    assert.match(table.find((l) => l.startsWith('  edge-0004')) ?? '', /validated .* revert-failed +2025-05-01 12:00:00/);
    assert.equal(lines.length < 80, true, `${lines.length} lines`);
  });

  it('--all lists every device', () => {
    const lines = renderRollout(report, { all: true });
    assert.ok(lines.includes('devices (2,000):'));
    assert.equal(lines.filter((l) => /^ {2}edge-\d{4} /.test(l)).length, 2000);
  });

  it('counts reverted devices as fine but says so', () => {
    const reverted = { ...report, devices: rows.map((d) => (d.outcome === 'validated' && !d.revert ? { ...d, revert: 'reverted' as const } : d)) };
    const lines = renderRollout(reverted);
    assert.ok(lines.includes('devices that need a look (51; 1,949 validated not shown, 1,949 of them since reverted — --all lists every device):'), lines.join('\n'));
    assert.equal(outcomeCounts(reverted.devices), '2,000 devices: validated 1,950 · skipped-offline 30 · failed 12 · not-reached 8; revert: reverted 1,949 · revert-failed 1');
  });
});

describe('fleet format: list --device', () => {
  it('asks for plain deployModel runs and deviceRollout children carrying the device, never its owner workflow', () => {
    assert.equal(listQuery({ device: 'pi-01' }), "WorkflowType IN ('deployModel', 'deviceRollout') AND EdgeshipDevices = 'pi-01'");
    assert.equal(
      listQuery({ device: 'pi-01', status: 'failed', model: 'tcn-vae', query: 'StartTime > "2025-01-01T00:00:00Z"' }),
      "WorkflowType IN ('deployModel', 'deviceRollout') AND EdgeshipDevices = 'pi-01' AND EdgeshipModel = 'tcn-vae' AND EdgeshipStatus = 'failed' AND (StartTime > \"2025-01-01T00:00:00Z\")",
    );
    assert.doesNotMatch(listQuery({ device: 'pi-01' }), /deviceOwner'/);
    assert.equal(listQuery({ device: "x' OR 'a'='a" }), "WorkflowType IN ('deployModel', 'deviceRollout') AND EdgeshipDevices = 'x\\' OR \\'a\\'=\\'a'");
    // Without --device: as before.
    assert.equal(listQuery({ model: 'tcn-vae', sha: SHA }), `WorkflowType = 'deployModel' AND EdgeshipModel = 'tcn-vae' AND EdgeshipSha = '${SHA}'`);
  });

  it('derives the deployment and the mode from a child id', () => {
    assert.equal(deploymentIdFromChild(`${ID}.pi-01`, 'pi-01'), ID);
    assert.equal(deploymentIdFromChild(`${ID}.pi-01.revert`, 'pi-01'), ID);
    assert.equal(deploymentIdFromChild(`${ID}.pi-01.catch-up`, 'pi-01'), ID);
    assert.equal(deploymentIdFromChild('unrelated', 'pi-01'), 'unrelated');
    assert.equal(childMode(`${ID}.pi-01.catch-up`, 'pi-01'), 'catch-up');
    assert.equal(childMode(`${ID}.pi-01`, 'pi-01'), 'deploy');
  });

  it('folds a fleet deployment\'s children into one row under the parent, beside plain runs', () => {
    const base = { model: 'tcn-vae', sha: SHA, devices: ['pi-01'] };
    const listed: ListedExecution[] = [
      // Newest first: a fleet run's revert, then its deploy (root named by the server)...
      { ...base, workflowId: `${ID}.pi-01.revert`, runId: 'c2', type: 'deviceRollout', executionStatus: 'COMPLETED', startTime: '2025-05-03T10:10:00.000Z', status: 'reverted', stage: 'done', parent: { workflowId: `${ID}.revert`, runId: 'w2' }, root: { workflowId: ID, runId: 'r3' } },
      { ...base, workflowId: `${ID}.pi-01`, runId: 'c1', type: 'deviceRollout', executionStatus: 'COMPLETED', startTime: '2025-05-03T10:01:00.000Z', status: 'validated', stage: 'done', parent: { workflowId: `${ID}.canary`, runId: 'w1' }, root: { workflowId: ID, runId: 'r3' } },
      // ...an older fleet run known only by its child id...
      { ...base, workflowId: 'deploy-old-cpu-fp32-000000000000.pi-01.catch-up', runId: 'c0', type: 'deviceRollout', executionStatus: 'RUNNING', startTime: '2025-05-02T09:00:00.000Z', status: 'running', stage: 'probe' },
      // ...and a plain run.
      { ...base, workflowId: 'deploy-tcn-vae-cpu-fp32-111111111111', runId: 'r1', type: 'deployModel', executionStatus: 'FAILED', startTime: '2025-05-01T08:00:00.000Z', status: 'rolled-back', devices: ['pi-01', 'pi-02'] },
    ];
    const runs = deviceRuns(listed, 'pi-01');
    assert.deepEqual(runs.map((r) => [r.deploymentId, r.runId, r.kind, r.outcome]), [
      [ID, 'r3', 'fleet', 'validated → revert reverted'],
      ['deploy-old-cpu-fp32-000000000000', undefined, 'fleet', 'catch-up running'],
      ['deploy-tcn-vae-cpu-fp32-111111111111', 'r1', 'plain', 'rolled-back'],
    ]);
    assert.deepEqual(runs[0].children.map((c) => [c.mode, c.wave]), [['deploy', 'canary'], ['revert', 'revert']]);
    const text = renderDeviceRuns(runs, 'pi-01').split('\n').map((l) => l.replace(/ {2,}/g, '|'));
    assert.deepEqual(text, [
      'DEPLOYMENT|KIND|WAVE|DEVICE OUTCOME|DEPLOYMENT STATUS|MODEL|ARTIFACT|STARTED',
      `${ID}|fleet|canary,revert|validated → revert reverted|—|tcn-vae|${SHA.slice(0, 12)}|2025-05-03 10:01:00`,
      `deploy-old-cpu-fp32-000000000000|fleet|—|catch-up running|—|tcn-vae|${SHA.slice(0, 12)}|2025-05-02 09:00:00`,
      `deploy-tcn-vae-cpu-fp32-111111111111|plain|—|rolled-back|rolled-back (FAILED)|tcn-vae|${SHA.slice(0, 12)}|2025-05-01 08:00:00`,
    ]);
    assert.equal(renderDeviceRuns([], 'pi-09'), 'no deployment touched pi-09');
  });

  it('a fleet parent that lists the device too is one row with its status and the device\'s outcome', () => {
    const runs = deviceRuns([
      { workflowId: ID, runId: 'r3', type: 'deployModel', executionStatus: 'FAILED', startTime: '2025-05-03T10:00:00.000Z', status: 'halted' },
      { workflowId: `${ID}.pi-01`, runId: 'c1', type: 'deviceRollout', executionStatus: 'COMPLETED', startTime: '2025-05-03T10:01:00.000Z', status: 'failed', root: { workflowId: ID, runId: 'r3' } },
    ], 'pi-01');
    assert.equal(runs.length, 1);
    assert.deepEqual([runs[0].kind, runs[0].outcome, runs[0].deploymentStatus, runs[0].startTime], ['fleet', 'failed', 'halted', '2025-05-03T10:00:00.000Z']);
  });
});
