// Artifact transfer to one simulated device over real OpenSSH: pushArtifact (SFTP via node-ssh,
// pinned host key, metadata sidecar, on-device sha256 check, atomic rename) next to plain `scp`
// of the same file with the same client key and the same pinned known_hosts line.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import { findSshd } from '../../sim/opensshServer';
import { startSimulatedFleet } from '../../sim/fleet';
import type { BenchModel } from './modelSource';

const run = promisify(execFile);

export type TransferFigures =
  | { skipped: string }
  | { sizeBytes: number; runs: number; sftpPushMs: number[]; scpMs: number[]; sshd: string };

export async function measureTransfer(model: BenchModel, runs: number): Promise<TransferFigures> {
  const sshd = findSshd();
  const scp = ['/usr/bin/scp', '/usr/local/bin/scp', '/opt/homebrew/bin/scp'].find((p) => existsSync(p));
  if (!sshd) return { skipped: 'no OpenSSH sshd installed: scp needs a real sshd to compare against' };
  if (!scp) return { skipped: 'no scp installed' };

  const baseDir = await mkdtemp(path.join(tmpdir(), 'edgeship-bench-fleet-'));
  const fleet = await startSimulatedFleet({ count: 1, baseDir, ids: ['bench-dev'], sshServer: 'openssh', startRuntimes: false });
  try {
    const device = fleet.devices[0];
    const modelDir = device.spec.modelDir;
    const knownHostsFile = path.join(baseDir, 'known_hosts');
    await writeFile(knownHostsFile, `${device.spec.ssh.knownHosts}\n`);
    const push = createPushArtifact(fleet.inventory);
    const sizeBytes = (await stat(model.path)).size;
    const artifact = { path: model.path, sha256: model.metadata.sha256, sizeBytes };
    const original = await readFile(model.path);
    const sftpPushMs: number[] = [];
    const scpMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      // pushArtifact skips an artifact already staged; clear it so every run really transfers.
      await rm(path.join(modelDir, 'staging'), { recursive: true, force: true });
      const t0 = performance.now();
      const result = await push({ deviceId: device.id, artifact, metadataPath: model.metadataPath, deploymentId: 'bench-edge-transfer', runId: `run-${i}` });
      sftpPushMs.push(performance.now() - t0);
      if (result.reused) throw new Error('pushArtifact reused a staged copy: the timing would not be a transfer');

      const dest = path.join(modelDir, `scp-bench-${i}.onnx`);
      const t1 = performance.now();
      await run(scp, ['-q', '-B', '-i', device.spec.ssh.privateKeyPath, '-P', String(device.sshPort), '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'IdentitiesOnly=yes', model.path, `${device.spec.ssh.user}@${device.spec.ssh.host}:${dest}`]);
      scpMs.push(performance.now() - t1);
      if (!(await readFile(dest)).equals(original)) throw new Error('scp copy differs from the artifact');
      await rm(dest);
    }
    return { sizeBytes, runs, sftpPushMs, scpMs, sshd };
  } finally {
    await fleet.stop();
    await rm(baseDir, { recursive: true, force: true });
  }
}
