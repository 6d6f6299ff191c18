// pushArtifact: stages a model file and its metadata sidecar on a device over SFTP, verified by
// sha256 on the device, without ever making a partial file visible under its final name.
//
// Layout written: <modelDir>/{releases,staging,backups}/ and
//   staging/<sha256>.<ext>            (renamed into place only after its sha256 verified)
//   staging/<sha256>.<ext>.meta.json  (likewise)
// Temporary names are `staging/.<final name>.partial`: deterministic per artifact, so a retry
// after a dropped connection truncates and reuses the leftover instead of accumulating debris.
//
// Failure policy:
// - local artifact does not hash to its declared sha256: ArtifactShaMismatch, non-retryable
//   (the artifact store is wrong; sending it again cannot fix that);
// - the file on the device does not hash to the sha256: ArtifactShaMismatch, retryable (a
//   transfer or disk fault on the device may not repeat); the temporary file is removed first,
//   so a retry starts clean and nothing unverified is left staged.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { NodeSSH } from 'node-ssh';
import type { PushArtifactInput, PushArtifactResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { DeviceSpec, Inventory } from '../../common/inventory';
import { connectDevice, shellQuote, sshFailure, type ConnectOptions } from './ssh';
import { Sftp } from './sftp';
import { requireDevice } from './resolveDevices';

export interface PushArtifactOptions {
  connect?: ConnectOptions;
  /**
   * Test seam: runs after the model reached its temporary name on the device and before it is
   * verified, so tests can simulate corruption on the device.
   */
  afterUpload?: (device: DeviceSpec, remoteTempPath: string) => Promise<void>;
}

type RemoteHashMethod = 'sha256sum' | 'sftp-readback';

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called outside a Temporal activity (scripts, benchmarks)
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function artifactExt(file: string): 'onnx' | 'hef' {
  const ext = path.extname(file).slice(1);
  if (ext !== 'onnx' && ext !== 'hef') {
    throw ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message: `artifact ${file}: extension must be .onnx or .hef` });
  }
  return ext;
}

/** Checks the local artifact and its metadata before anything touches the device. */
async function checkLocal(input: PushArtifactInput): Promise<{ metaBytes: Buffer; sizeBytes: number }> {
  const { artifact, metadataPath } = input;
  const bad = (message: string) => ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message });
  const st = await stat(artifact.path).catch(() => null);
  if (!st?.isFile()) throw bad(`artifact ${artifact.path} does not exist`);
  if (st.size !== artifact.sizeBytes) throw bad(`artifact ${artifact.path} is ${st.size} bytes, the reference says ${artifact.sizeBytes}`);
  const localSha = await sha256File(artifact.path);
  if (localSha !== artifact.sha256) {
    throw ApplicationFailure.create({ type: ErrorType.ArtifactShaMismatch, nonRetryable: true, message: `local artifact ${artifact.path} hashes to ${localSha}, not ${artifact.sha256}: the artifact store is inconsistent` });
  }
  const metaBytes = await readFile(metadataPath).catch(() => {
    throw bad(`metadata ${metadataPath} cannot be read`);
  });
  let meta: { sha256?: unknown };
  try {
    meta = JSON.parse(metaBytes.toString('utf8')) as { sha256?: unknown };
  } catch {
    throw bad(`metadata ${metadataPath} is not JSON`);
  }
  if (meta.sha256 !== artifact.sha256) throw bad(`metadata ${metadataPath} describes sha256 ${String(meta.sha256)}, not the artifact's ${artifact.sha256}`);
  return { metaBytes, sizeBytes: st.size };
}

/** Hashes a file on the device: its own sha256sum when it has one, else by reading it back. */
class RemoteHasher {
  method: RemoteHashMethod = 'sha256sum';
  constructor(private readonly ssh: NodeSSH, private readonly sftp: Sftp) {}

  async sha256(remote: string): Promise<string> {
    if (this.method === 'sha256sum') {
      let res: { code: number | null; stdout: string; stderr: string } | undefined;
      try {
        res = await this.sftp.guard(this.ssh.execCommand(`sha256sum -- ${shellQuote(remote)}`));
      } catch (err) {
        // A refused exec channel (no shell, exec disabled) leaves the connection usable.
        if (!this.ssh.isConnected()) throw err;
      }
      if (res && res.code === 0) {
        const m = /^\\?([0-9a-f]{64})\s/.exec(res.stdout);
        if (!m) throw new Error(`unexpected sha256sum output on the device: ${res.stdout.slice(0, 200)}`);
        return m[1];
      }
      if (res && res.code !== 127 && !/not found|unknown command|not supported/i.test(res.stderr)) {
        throw new Error(`sha256sum -- ${remote} failed on the device (exit ${res.code}): ${res.stderr.trim().slice(0, 300)}`);
      }
      this.method = 'sftp-readback';
    }
    return this.sftp.sha256(remote);
  }
}

export function createPushArtifact(inventory: Inventory, options: PushArtifactOptions = {}) {
  return async function pushArtifact(input: PushArtifactInput): Promise<PushArtifactResult> {
    const started = performance.now();
    const device = requireDevice(inventory, input.deviceId);
    const { sha256 } = input.artifact;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidIdentifier, nonRetryable: true, message: `invalid sha256 ${JSON.stringify(sha256)}` });
    }
    const ext = artifactExt(input.artifact.path);
    const { metaBytes, sizeBytes } = await checkLocal(input);

    const ctx = activityContext();
    const where = `${device.id} (${device.ssh.host}:${device.ssh.port})`;
    const name = `${sha256}.${ext}`;
    const staged = `${device.modelDir}/staging/${name}`;
    const release = `${device.modelDir}/releases/${name}`;

    const ssh = await connectDevice(device, options.connect);
    const onCancel = () => ssh.dispose();
    ctx?.cancellationSignal.addEventListener('abort', onCancel);
    try {
      const sftp = new Sftp(await ssh.requestSFTP(), ssh.connection!);
      const hasher = new RemoteHasher(ssh, sftp);
      for (const dir of ['releases', 'staging', 'backups']) await sftp.mkdirp(`${device.modelDir}/${dir}`);

      const metaSha = createHash('sha256').update(metaBytes).digest('hex');
      const result = (where: string, bytesSent: number, reused: boolean): PushArtifactResult => ({
        deviceId: device.id, stagedPath: where, stagedMetadataPath: `${where}.meta.json`, sha256, bytesSent, reused,
        durationMs: Math.round(performance.now() - started),
      });
      const hasArtifact = async (p: string) => (await sftp.stat(p))?.size === sizeBytes && (await hasher.sha256(p)) === sha256;

      // A release already on the device is reused where it is: it is what swapModel would
      // produce from staging, and copying it back into staging would cost a full transfer.
      if (await hasArtifact(release)) {
        const sent = await ensureFile(sftp, hasher, `${release}.meta.json`, metaBytes, metaSha);
        ctx?.log.info('pushArtifact: artifact already released on the device', { deviceId: device.id, release, hashMethod: hasher.method });
        return result(release, sent, true);
      }
      let bytesSent = 0;
      let reused = true;
      if (!(await hasArtifact(staged))) {
        reused = false;
        bytesSent += await uploadVerified(sftp, hasher, input.artifact.path, staged, sha256, sizeBytes, {
          device, ctx, afterUpload: options.afterUpload,
        });
      }
      bytesSent += await ensureFile(sftp, hasher, `${staged}.meta.json`, metaBytes, metaSha);
      ctx?.log.info('pushArtifact: staged', { deviceId: device.id, staged, reused, bytesSent, hashMethod: hasher.method });
      return result(staged, bytesSent, reused);
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      if (ctx?.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      throw typeof (err as { code?: unknown })?.code === 'number'
        ? new Error(`SFTP on ${where} failed: ${(err as Error).message}`) // an SFTP status from the server
        : sshFailure(err, where);
    } finally {
      ctx?.cancellationSignal.removeEventListener('abort', onCancel);
      ssh.dispose();
    }
  };
}

function partialName(finalPath: string): string {
  return `${path.posix.dirname(finalPath)}/.${path.posix.basename(finalPath)}.partial`;
}

interface UploadContext {
  device: DeviceSpec;
  ctx: Context | undefined;
  afterUpload?: PushArtifactOptions['afterUpload'];
}

/** Uploads to the temporary name, verifies on the device, then renames into place. Returns bytes sent. */
async function uploadVerified(sftp: Sftp, hasher: RemoteHasher, local: string, finalPath: string, sha256: string, sizeBytes: number, u: UploadContext): Promise<number> {
  const temp = partialName(finalPath);
  let lastBeat = 0;
  await sftp.upload(local, temp, (transferred, total) => {
    const now = Date.now();
    if (u.ctx && (now - lastBeat > 1000 || transferred === total)) {
      lastBeat = now;
      u.ctx.heartbeat({ phase: 'upload', bytes: transferred, total });
    }
  });
  await sftp.fsync(temp);
  if (u.afterUpload) await u.afterUpload(u.device, temp);
  u.ctx?.heartbeat({ phase: 'verify', bytes: sizeBytes, total: sizeBytes });
  const remoteSha = await hasher.sha256(temp);
  if (remoteSha !== sha256) {
    await sftp.unlinkIfExists(temp);
    throw ApplicationFailure.create({
      type: ErrorType.ArtifactShaMismatch,
      nonRetryable: false,
      message: `on device ${u.device.id}, ${path.posix.basename(finalPath)} hashed to ${remoteSha} after upload (expected ${sha256}); the upload was discarded`,
    });
  }
  await sftp.replace(temp, finalPath);
  return sizeBytes;
}

/** Makes a small file on the device hold exactly `bytes` (temporary name + verify + rename). */
async function ensureFile(sftp: Sftp, hasher: RemoteHasher, finalPath: string, bytes: Buffer, sha256: string): Promise<number> {
  if ((await sftp.stat(finalPath))?.size === bytes.length && (await hasher.sha256(finalPath)) === sha256) return 0;
  const temp = partialName(finalPath);
  await sftp.writeFile(temp, bytes);
  const remoteSha = await hasher.sha256(temp);
  if (remoteSha !== sha256) {
    await sftp.unlinkIfExists(temp);
    throw ApplicationFailure.create({ type: ErrorType.ArtifactShaMismatch, nonRetryable: false, message: `${finalPath} hashed to ${remoteSha} after upload (expected ${sha256}); discarded` });
  }
  await sftp.replace(temp, finalPath);
  return bytes.length;
}
