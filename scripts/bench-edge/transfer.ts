// Artifact transfer to a simulated device over real OpenSSH: pushArtifact (SFTP via node-ssh,
// pinned host key, on-device sha256 check, metadata sidecar) next to plain `scp` of the same
// file with the same key and pinned known_hosts.
//
// INTEGRATION POINT: the sshd comes from the simulated-devices building blocks in scripts/sim/
// (another engineer's, still moving when this was written), loaded dynamically and typed locally
// so a change there disables this section with a message instead of breaking the build. Once
// the fleet module (startSimulatedFleet or similar) settles, replace startDeviceSshd() with one
// simulated device from it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../common/paths';
import { parseInventory } from '../../common/inventory';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import type { BenchModel } from './modelSource';

const run = promisify(execFile);

interface SimLayout { dir: string; modelDir: string; sshDir: string; runDir: string; logDir: string; hostKey: string; clientKey: string; authorizedKeys: string }
interface SimModules {
  deviceLayout(dir: string): SimLayout;
  ensureKeyPair(privateKeyPath: string, comment: string): { privateKeyPath: string; publicKey: string };
  startOpenSshd(layout: SimLayout, port: number): Promise<{ port: number; stop(): Promise<void> }>;
  findSshd(): string | undefined;
  freePort(): Promise<number>;
}

export type TransferFigures =
  | { skipped: string }
  | { sizeBytes: number; runs: number; sftpPushMs: number[]; scpMs: number[]; sshd: string };

async function loadSim(): Promise<SimModules | string> {
  const dir = path.join(PROJECT_ROOT, 'scripts', 'sim');
  const files = ['layout.ts', 'keys.ts', 'opensshServer.ts', 'net.ts'];
  const missing = files.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length) return `scripts/sim/{${missing.join(',')}} not found`;
  try {
    const mods = (await Promise.all(files.map((f) => import(path.join(dir, f))))) as Array<Record<string, unknown>>;
    const merged = Object.assign({}, ...mods) as Record<string, unknown>;
    const needed = ['deviceLayout', 'ensureKeyPair', 'startOpenSshd', 'findSshd', 'freePort'];
    const absent = needed.filter((n) => typeof merged[n] !== 'function');
    if (absent.length) return `scripts/sim no longer exports ${absent.join(', ')}`;
    return merged as unknown as SimModules;
  } catch (err) {
    return `cannot load scripts/sim: ${(err as Error).message}`;
  }
}

export async function measureTransfer(model: BenchModel, runs: number): Promise<TransferFigures> {
  const sim = await loadSim();
  if (typeof sim === 'string') return { skipped: sim };
  const sshdPath = sim.findSshd();
  const scp = ['/usr/bin/scp', '/usr/local/bin/scp', '/opt/homebrew/bin/scp'].find((p) => existsSync(p));
  if (!sshdPath) return { skipped: 'no OpenSSH sshd installed' };
  if (!scp) return { skipped: 'no scp installed' };

  const root = await mkdtemp(path.join(tmpdir(), 'edgeship-bench-ssh-'));
  const layout = sim.deviceLayout(root);
  for (const d of [layout.sshDir, layout.runDir, layout.logDir, layout.modelDir]) await mkdir(d, { recursive: true });
  const host = sim.ensureKeyPair(layout.hostKey, 'bench-host');
  const client = sim.ensureKeyPair(layout.clientKey, 'bench-client');
  await writeFile(layout.authorizedKeys, `${client.publicKey}\n`);
  const port = await sim.freePort();
  const sshd = await sim.startOpenSshd(layout, port);
  try {
    const knownHosts = `[127.0.0.1]:${port} ${host.publicKey}`;
    const knownHostsFile = path.join(layout.sshDir, 'known_hosts');
    await writeFile(knownHostsFile, `${knownHosts}\n`);
    const inventory = parseInventory({
      devices: [{
        id: 'bench-dev', target: 'cpu-fp32',
        ssh: { host: '127.0.0.1', port, user: 'root', privateKeyPath: client.privateKeyPath, knownHosts },
        modelDir: layout.modelDir, restartCommand: ['/bin/true'],
        healthUrl: 'http://127.0.0.1:9/healthz', inferenceUrl: 'http://127.0.0.1:9/infer',
      }],
    });
    const push = createPushArtifact(inventory);
    const sizeBytes = (await stat(model.path)).size;
    const artifact = { path: model.path, sha256: model.metadata.sha256, sizeBytes };
    const sftpPushMs: number[] = [];
    const scpMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      // pushArtifact skips an artifact already staged; clear it so every run really transfers.
      await rm(path.join(layout.modelDir, 'staging'), { recursive: true, force: true });
      const t0 = performance.now();
      const result = await push({ deviceId: 'bench-dev', artifact, metadataPath: model.metadataPath });
      sftpPushMs.push(performance.now() - t0);
      if (result.reused) throw new Error('pushArtifact reused a staged copy: the timing would not be a transfer');

      const dest = path.join(layout.modelDir, `scp-${i}.onnx`);
      const t1 = performance.now();
      await run(scp, ['-q', '-B', '-i', client.privateKeyPath, '-P', String(port), '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'IdentitiesOnly=yes', model.path, `root@127.0.0.1:${dest}`]);
      scpMs.push(performance.now() - t1);
      if (!(await readFile(dest)).equals(await readFile(model.path))) throw new Error('scp copy differs from the artifact');
    }
    return { sizeBytes, runs, sftpPushMs, scpMs, sshd: sshdPath };
  } finally {
    await sshd.stop();
    await rm(root, { recursive: true, force: true });
  }
}
