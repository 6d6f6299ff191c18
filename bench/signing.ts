// `npm run bench:signing`: what signed releases cost, measured on this machine with the demo
// model's FP32 artifact (the real export of the demo checkpoint, ~1.7 MiB).
//   npm run bench:signing [-- --runs 50 --rounds 5]
// Prints:
// - sign: signRelease as compileModel runs it (metadata hash, sequence lock + counter, Ed25519
//   over the canonical manifest, atomic manifest write), median / p95 of --runs fresh signatures;
//   and the bare Ed25519 signature over the manifest bytes;
// - verify: verifyRelease as swapModel runs it (manifest read, schema, Ed25519 verify, sha256 of
//   the model file and of the metadata), and as the runtime runs it at load (the model's bytes are
//   hashed by the runtime anyway, so only manifest, metadata and signature are added);
// - a device deployment phase (pushArtifact over SFTP to an OpenSSH device + swapModel with its
//   restart and /healthz) on a device that checks signatures next to one that does not, --rounds
//   alternating rounds each; the added work (one sign + one device verify + one runtime verify)
//   as a share of that phase's wall time. A whole deployment (export, compile, validation) is
//   longer than this phase, so the share of a deployment is smaller still.
// Timing figures only: nothing here asserts. Noisy on a shared machine; the CPU is printed.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createEdgeActivities } from '../activities/edge';
import { waitForServedSha } from '../activities/edge/health';
import { ArtifactStore } from '../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../activities/gpu/demoCheckpoint';
import { exportModel } from '../activities/gpu/exportModel';
import { loadReleaseSigner } from '../activities/gpu/releaseKey';
import { createPushArtifact } from '../activities/gpu/pushArtifact';
import { signRelease } from '../activities/gpu/signRelease';
import { createReleaseKeyPair } from '../clients/releaseKeys';
import { percentile } from '../common/percentiles';
import { stateDir } from '../lib/paths';
import { manifestBytes, manifestPathOf, parseSignedManifest, signatureHolds, type ReleaseManifest } from '../edge/releaseManifest';
import { loadDeviceTrust, verifyRelease } from '../edge/trust';
import { startSimulatedFleet, type SimulatedFleet } from '../sim/fleet';

const ms = (v: number): string => (Math.abs(v) < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(2)} ms`);
const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 0.5);
const p95 = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 0.95);

async function timeMany(n: number, work: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await work(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** A copy of the demo ONNX with another sha (a doc_string field appended): one more "release". */
function version(src: { path: string; metadataPath: string }, dir: string, label: string): { path: string; metadataPath: string; sha256: string; sizeBytes: number } {
  // Same trick as the tests: protobuf reads the appended field 6 as the model's doc_string.
  const text = Buffer.from(label, 'utf8');
  const bytes = Buffer.concat([readFileSync(src.path), Buffer.from([0x32, text.length]), text]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, `${sha256}.onnx`);
  writeFileSync(file, bytes);
  const meta = JSON.parse(readFileSync(src.metadataPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${file}.meta.json`, JSON.stringify({ ...meta, sha256, sizeBytes: bytes.length }));
  return { path: file, metadataPath: `${file}.meta.json`, sha256, sizeBytes: bytes.length };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, rounds: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  const rounds = Number(values.rounds);
  const cpu = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')}`;
  console.log(`CPU: ${cpu}; node ${process.version}`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-signing-'));
  const fleets: SimulatedFleet[] = [];
  try {
    const ckpt = await ensureDemoCheckpoint(path.join(stateDir(), 'demo', 'tcn-vae-demo.pt'));
    const store = new ArtifactStore(path.join(work, 'store'));
    const exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    console.log(`artifact: demo FP32 ONNX ${(exp.onnx.sizeBytes / 1024 / 1024).toFixed(2)} MiB (${exp.onnx.sizeBytes} bytes), sha256 ${exp.onnx.sha256.slice(0, 12)}`);

    const keys = createReleaseKeyPair(path.join(work, 'keys'));
    const signer = loadReleaseSigner(keys.privateKeyPath);
    const manifestFile = manifestPathOf(exp.onnx.path);
    const signTimes = await timeMany(runs, async () => {
      rmSync(manifestFile, { force: true }); // a fresh signature each time, not the reused one
      const r = await signRelease(store.root, signer, { modelName: 'tcn-vae-demo', target: 'cpu-fp32', artifact: exp.onnx, metadataPath: exp.metadataPath });
      if (!r.signed || r.reused) throw new Error('expected a fresh signature');
    });
    const signed = parseSignedManifest(JSON.parse(readFileSync(manifestFile, 'utf8')), manifestFile);
    const bytes = manifestBytes(signed.manifest as ReleaseManifest);
    const privateKey = createPrivateKey(readFileSync(keys.privateKeyPath));
    const rawSign = await timeMany(runs * 20, () => sign(null, bytes, privateKey));
    console.log(`sign (compileModel's signRelease, n=${runs}): median ${ms(median(signTimes))}, p95 ${ms(p95(signTimes))}; bare Ed25519 over the ${bytes.length}-byte manifest (n=${runs * 20}): median ${ms(median(rawSign))}`);

    const trust = loadDeviceTrust({ publicKeyFiles: [keys.publicKeyPath], requireSignatures: true });
    const files = { manifestFile, metadataFile: exp.metadataPath, model: { file: exp.onnx.path }, expectedSha256: exp.onnx.sha256, deviceTarget: 'cpu-fp32' as const };
    const verifyTimes = await timeMany(runs, () => verifyRelease(trust, files));
    const loadTimes = await timeMany(runs, () => verifyRelease(trust, { ...files, model: { sha256: exp.onnx.sha256 } }));
    const publicKey = createPublicKey(readFileSync(keys.publicKeyPath));
    const rawVerify = await timeMany(runs * 20, () => signatureHolds(signed, publicKey));
    console.log(`verify on the device (swapModel: manifest, signature, sha256 of the ${(exp.onnx.sizeBytes / 1024 / 1024).toFixed(2)} MiB model and of the metadata, n=${runs}): median ${ms(median(verifyTimes))}, p95 ${ms(p95(verifyTimes))}`);
    console.log(`verify at runtime load (model bytes hashed by the runtime anyway; manifest, metadata, signature, n=${runs}): median ${ms(median(loadTimes))}; bare Ed25519 verify (n=${runs * 20}): median ${ms(median(rawVerify))}`);

    // ---- a device deployment phase, with and without signatures ---------------------------------
    const trustConfig = { publicKeyFiles: [keys.publicKeyPath], requireSignatures: true };
    const baseline = version({ path: exp.onnx.path, metadataPath: exp.metadataPath }, work, 'bench baseline');
    const baselineSigned = await signRelease(store.root, signer, { modelName: 'tcn-vae-demo', target: 'cpu-fp32', artifact: baseline, metadataPath: baseline.metadataPath });
    if (!baselineSigned.signed) throw new Error('baseline not signed');
    const plain = await startSimulatedFleet({ count: 1, ids: ['bench-plain'], baseDir: path.join(work, 'plain'), sshServer: 'openssh', baseline: { modelPath: baseline.path, metadataPath: baseline.metadataPath } });
    fleets.push(plain);
    const checked = await startSimulatedFleet({ count: 1, ids: ['bench-signed'], baseDir: path.join(work, 'signed'), sshServer: 'openssh', baseline: { modelPath: baseline.path, metadataPath: baseline.metadataPath, manifestPath: baselineSigned.manifestPath }, trust: trustConfig });
    fleets.push(checked);
    for (const f of fleets) await waitForServedSha({ healthUrl: f.devices[0].spec.healthUrl, sha256: baseline.sha256, timeoutMs: 60_000 });
    const modes = [
      { name: 'unsigned, device checks nothing', fleet: plain, acts: createEdgeActivities(plain.devices[0].spec, { pollIntervalMs: 50 }), signed: false, times: [] as number[] },
      { name: 'signed, device requires signatures', fleet: checked, acts: createEdgeActivities(checked.devices[0].spec, { pollIntervalMs: 50, trust: loadDeviceTrust(trustConfig) }), signed: true, times: [] as number[] },
    ];
    for (let round = 0; round < rounds; round++) {
      for (const m of round % 2 === 0 ? modes : [...modes].reverse()) {
        const v = version({ path: exp.onnx.path, metadataPath: exp.metadataPath }, work, `bench ${m.signed ? 's' : 'u'} ${round}`);
        const manifest = m.signed ? await signRelease(store.root, signer, { modelName: 'tcn-vae-demo', target: 'cpu-fp32', artifact: v, metadataPath: v.metadataPath }) : undefined;
        const device = m.fleet.devices[0].spec;
        const run = { deploymentId: `bench-${m.signed ? 'signed' : 'plain'}-${round}`, runId: 'r1' };
        const t = performance.now();
        await createPushArtifact(m.fleet.inventory)({ deviceId: device.id, ...run, artifact: { path: v.path, sha256: v.sha256, sizeBytes: v.sizeBytes }, metadataPath: v.metadataPath, ...(manifest?.signed ? { manifestPath: manifest.manifestPath } : {}) });
        const swapped = await m.acts.swapModel({ ...run, sha256: v.sha256, ext: 'onnx', healthTimeoutMs: 60_000 });
        m.times.push(performance.now() - t);
        if (m.signed !== (swapped.release?.signed === true)) throw new Error(`${m.name}: the swap reports ${JSON.stringify(swapped.release)}`);
      }
    }
    for (const m of modes) console.log(`push + swap (restart, /healthz), ${m.name} (n=${rounds}): median ${ms(median(m.times))} [${ms(Math.min(...m.times))} – ${ms(Math.max(...m.times))}]`);
    const added = median(signTimes) + median(verifyTimes) + median(loadTimes);
    const phase = median(modes[0].times);
    const diff = median(modes[1].times) - phase;
    const spread = Math.max(...modes[0].times) - Math.min(...modes[0].times);
    console.log(`added work per device deployment (sign + device verify + runtime verify, medians): ${ms(added)} = ${((100 * added) / phase).toFixed(2)} % of the unsigned push + swap median (${ms(phase)})`);
    console.log(`measured difference of the two push + swap medians: ${ms(diff)} (${((100 * diff) / phase).toFixed(1)} %); spread of the unsigned runs alone: ${ms(spread)} (${((100 * spread) / phase).toFixed(1)} %)${Math.abs(diff) <= spread ? ': the difference is inside the noise' : ''}`);
    console.log(`CPU at the end: load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')}`);
  } finally {
    for (const f of fleets) await f.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
