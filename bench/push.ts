// Push time of an artifact to a simulated device over SFTP (pushArtifact: connect, upload,
// on-device sha256, renames, metadata) next to `scp` of the same file with the same pinned key.
//   npx tsx bench/push.ts [--size-mb 1] [--file model.onnx --meta model.onnx.meta.json] [--runs 5] [--ssh openssh|embedded]
// Importable: measurePush() for the edge benchmark.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createPushArtifact } from '../activities/gpu/pushArtifact';
import { findExecutable } from '../sim/keys';
import { startSimulatedFleet, type SshServerKind } from '../sim/fleet';

export interface PushFigures {
  bytes: number;
  runs: number;
  sshServer: SshServerKind;
  pushMs: { median: number; min: number };
  /** null when scp is not installed. */
  scpMs: { median: number; min: number } | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function measurePush(opts: { file: string; metadataPath: string; runs?: number; sshServer?: SshServerKind | 'auto' }): Promise<PushFigures> {
  const runs = opts.runs ?? 5;
  const work = mkdtempSync(path.join(tmpdir(), 'edgeship-bench-push-'));
  const fleet = await startSimulatedFleet({ count: 1, baseDir: work, sshServer: opts.sshServer ?? 'auto', startRuntimes: false });
  try {
    const device = fleet.devices[0].spec;
    const sha256 = createHash('sha256').update(readFileSync(opts.file)).digest('hex');
    const bytes = statSync(opts.file).size;
    const push = createPushArtifact(fleet.inventory);
    const staged = path.join(device.modelDir, 'staging', `${sha256}${path.extname(opts.file)}`);
    const pushTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(staged, { force: true }); // otherwise the second push is (rightly) a no-op
      const t = performance.now();
      const r = await push({ deviceId: device.id, artifact: { path: opts.file, sha256, sizeBytes: bytes }, metadataPath: opts.metadataPath, deploymentId: 'bench-push', runId: `run-${i}` });
      pushTimes.push(performance.now() - t);
      if (r.reused) throw new Error('benchmark push was reused');
    }
    let scpMs: PushFigures['scpMs'] = null;
    const scp = findExecutable('scp');
    if (scp && fleet.sshServerKind === 'openssh') {
      const knownHosts = path.join(work, 'known_hosts');
      writeFileSync(knownHosts, `${device.ssh.knownHosts}\n`);
      const scpTimes: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await promisify(execFile)(scp, ['-q', '-B', '-i', device.ssh.privateKeyPath, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-P', String(device.ssh.port),
          opts.file, `${device.ssh.user}@${device.ssh.host}:${device.modelDir}/staging/scp-copy`]);
        scpTimes.push(performance.now() - t);
      }
      scpMs = { median: median(scpTimes), min: Math.min(...scpTimes) };
    }
    return { bytes, runs, sshServer: fleet.sshServerKind, pushMs: { median: median(pushTimes), min: Math.min(...pushTimes) }, scpMs };
  } finally {
    await fleet.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string' }, file: { type: 'string' }, meta: { type: 'string' }, runs: { type: 'string' }, ssh: { type: 'string' } } });
  let file = values.file;
  let meta = values.meta;
  let scratch: string | undefined;
  if (!file) {
    scratch = mkdtempSync(path.join(tmpdir(), 'edgeship-bench-artifact-'));
    file = path.join(scratch, 'random.onnx');
    writeFileSync(file, randomBytes(Math.round(Number(values['size-mb'] ?? '1') * 1024 * 1024)));
    meta = `${file}.meta.json`;
    writeFileSync(meta, JSON.stringify({ sha256: createHash('sha256').update(readFileSync(file)).digest('hex') }));
  }
  if (!meta) throw new Error('--meta is required with --file');
  try {
    const f = await measurePush({ file, metadataPath: meta, runs: Number(values.runs ?? '5'), sshServer: (values.ssh as SshServerKind | 'auto' | undefined) ?? 'auto' });
    const mb = (f.bytes / 1024 / 1024).toFixed(2);
    process.stdout.write(`artifact ${mb} MiB, ${f.runs} runs, SSH server ${f.sshServer}\n`);
    process.stdout.write(`  pushArtifact (SFTP + on-device sha256 + renames + meta): median ${f.pushMs.median.toFixed(0)} ms, min ${f.pushMs.min.toFixed(0)} ms\n`);
    process.stdout.write(f.scpMs ? `  scp of the same file:                                   median ${f.scpMs.median.toFixed(0)} ms, min ${f.scpMs.min.toFixed(0)} ms\n` : '  scp: not measured (needs scp and OpenSSH sshd)\n');
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench-push: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
