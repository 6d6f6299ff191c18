// pushArtifact: stages a model file and its metadata sidecar on a device over SFTP, verified by
// sha256 on the device, without ever making a partial file visible under its final name.
//
// Layout written: <modelDir>/{releases,staging,backups}/ and
//   staging/<sha256>.<ext>            (renamed into place only after its sha256 verified)
//   staging/<sha256>.<ext>.meta.json  (likewise)
//   staging/<sha256>.<ext>.manifest.json  the signed release manifest, when the input names one
//                                     (likewise; the device checks its signature before the swap)
//   staging/<sha256>.<ext>.claims/<sha256 of deploymentId \n runId>.json
//                                     this run's claim, written once the artifact is verified:
//                                     the staged file stays until no run claims it (discardStaged)
// Temporary names are `staging/.<final name>.partial`: deterministic per artifact, so a retry
// after a dropped connection truncates and reuses the leftover instead of accumulating debris.
// Two pushes of the same artifact to one device at once write identical bytes at identical
// offsets; should they still interleave badly, verification catches it before the rename.
//
// Failure policy:
// - local artifact does not hash to its declared sha256: ArtifactShaMismatch, non-retryable
//   (the artifact store is wrong; sending it again cannot fix that);
// - the file on the device does not hash to the sha256: ArtifactShaMismatch, retryable (a
//   transfer or disk fault on the device may not repeat); the temporary file is removed first,
//   so a retry starts clean and nothing unverified is left staged.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { NodeSSH } from 'node-ssh';
import type { PushArtifactInput, PushArtifactResult } from '../../common/contracts';
import { currentActivity } from '../../lib/activityContext';
import { ErrorType } from '../../common/errors';
import { sha256File } from '../../lib/hashing';
import type { DeviceSpec, Inventory } from '../../lib/inventory';
import { connectDevice, shellQuote, sshFailure, type ConnectOptions } from './ssh';
import { Sftp } from './sftp';
import { requireDevice } from './resolveDevices';
import { checkRun, claimFileName, claimsDirOf } from '../edge/modelDir';
import { MANIFEST_SUFFIX, parseSignedManifest } from '../../edge/releaseManifest';

export interface PushArtifactOptions {
  connect?: ConnectOptions;
  /**
   * Test seam: runs after the model reached its temporary name on the device and before it is
   * verified, so tests can simulate corruption on the device.
   */
  afterUpload?: (device: DeviceSpec, remoteTempPath: string) => Promise<void>;
}

type RemoteHashMethod = 'sha256sum' | 'sftp-readback';

function artifactExt(file: string): 'onnx' | 'hef' {
  const ext = path.extname(file).slice(1);
  if (ext !== 'onnx' && ext !== 'hef') {
    throw ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message: `artifact ${file}: extension must be .onnx or .hef` });
  }
  return ext;
}

/**
 * The manifest named by the input, checked against the artifact and metadata it goes with: a
 * manifest for other bytes would only be refused by the device later, after a transfer.
 */
async function checkManifest(input: PushArtifactInput, metaBytes: Buffer): Promise<Buffer | undefined> {
  if (input.manifestPath === undefined) return undefined;
  const bad = (message: string) => ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message });
  const bytes = await readFile(input.manifestPath).catch(() => {
    throw bad(`release manifest ${input.manifestPath} cannot be read`);
  });
  let signed;
  try {
    signed = parseSignedManifest(JSON.parse(bytes.toString('utf8')), input.manifestPath);
  } catch (err) {
    throw bad(err instanceof SyntaxError ? `release manifest ${input.manifestPath} is not JSON` : (err as Error).message);
  }
  if (signed.manifest.model.sha256 !== input.artifact.sha256) throw bad(`release manifest ${input.manifestPath} describes model ${signed.manifest.model.sha256}, not the artifact's ${input.artifact.sha256}`);
  const metaSha = createHash('sha256').update(metaBytes).digest('hex');
  if (signed.manifest.metadata.sha256 !== metaSha) throw bad(`release manifest ${input.manifestPath} describes metadata ${signed.manifest.metadata.sha256}, but ${input.metadataPath} hashes to ${metaSha}`);
  return bytes;
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

/**
 * Hashes files on the device: with its own sha256sum when it has one (all files in one exec:
 * each exec costs a session and a shell start, ~0.1 s on OpenSSH), else by reading them back.
 */
class RemoteHasher {
  method: RemoteHashMethod = 'sha256sum';
  constructor(private readonly ssh: NodeSSH, private readonly sftp: Sftp) {}

  async sha256(remote: string): Promise<string> {
    return (await this.sha256Many([remote]))[0];
  }

  async sha256Many(remotes: string[]): Promise<string[]> {
    if (remotes.length === 0) return [];
    if (this.method === 'sha256sum') {
      let res: { code: number | null; stdout: string; stderr: string } | undefined;
      try {
        res = await this.sftp.guard(this.ssh.execCommand(`sha256sum -- ${remotes.map(shellQuote).join(' ')}`));
      } catch (err) {
        // A refused exec channel (no shell, exec disabled) leaves the connection usable.
        if (!this.ssh.isConnected()) throw err;
      }
      // `ForceCommand internal-sftp` (the packaged device's deploy user) answers every exec by
      // refusing it: OpenSSH 9.2 prints "This service allows sftp connections only." on the
      // channel's stdout and exits 1. That is "no commands here", not a hash failure (sha256sum
      // prints a hash or its own error on stderr): read back over SFTP instead.
      const forcedToSftp = res !== undefined && res.stderr.trim() === '' && (res.stdout.trim() === '' || /^This service allows sftp connections only\.?$/i.test(res.stdout.trim()));
      if (res && res.code === 0 && !forcedToSftp) {
        const hashes = res.stdout.split('\n').map((line) => /^([0-9a-f]{64}) [ *]/.exec(line)?.[1]);
        if (hashes.length !== remotes.length || hashes.some((h) => !h)) throw new Error(`unexpected sha256sum output on the device: ${res.stdout.slice(0, 300)}`);
        return hashes as string[];
      }
      if (res && !forcedToSftp && res.code !== 127 && !/not found|unknown command|not supported/i.test(res.stderr)) {
        throw new Error(`sha256sum failed on the device (exit ${res.code}): ${res.stderr.trim().slice(0, 300)}`);
      }
      this.method = 'sftp-readback';
    }
    const out: string[] = [];
    for (const r of remotes) out.push(await this.sftp.sha256(r));
    return out;
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
    checkRun(input.deploymentId, input.runId);
    const ext = artifactExt(input.artifact.path);
    const { metaBytes, sizeBytes } = await checkLocal(input);
    const manifestBytes = await checkManifest(input, metaBytes);

    const ctx = currentActivity();
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
      const meta = { bytes: metaBytes, sha256: createHash('sha256').update(metaBytes).digest('hex') };
      const manifest = manifestBytes && { bytes: manifestBytes, sha256: createHash('sha256').update(manifestBytes).digest('hex') };
      const result = (at: string, bytesSent: number, reused: boolean, metaAt = `${at}.meta.json`, manifestAt?: string): PushArtifactResult => ({
        deviceId: device.id, stagedPath: at, stagedMetadataPath: metaAt, ...(manifestAt ? { stagedManifestPath: manifestAt } : {}), sha256, bytesSent, reused,
        durationMs: Math.round(performance.now() - started),
      });

      // What is already there, hashed in one go. A release already on the device is reused
      // where it is: it is what swapModel would make of the staged file, and copying it back
      // into staging would cost a full transfer.
      const stageOnce = async (): Promise<PushArtifactResult> => {
        const sidecars = [{ suffix: '.meta.json', ...meta }, ...(manifest ? [{ suffix: MANIFEST_SUFFIX, ...manifest }] : [])];
        const present = await existingWithSize(sftp, [[release, sizeBytes], [staged, sizeBytes], ...sidecars.flatMap((c): Array<[string, number]> => [[`${release}${c.suffix}`, c.bytes.length], [`${staged}${c.suffix}`, c.bytes.length]])]);
        const hashes = new Map(present.length ? (await hasher.sha256Many(present)).map((h, i) => [present[i], h]) : []);
        // The sidecars of a release are never written here (the release may be live, and staging
        // must touch nothing live): a metadata file or manifest that differs from the release's
        // is staged, and swapModel verifies and installs it with the release after approval;
        // discardStaged drops it.
        for (const at of [release, staged]) {
          if (hashes.get(at) !== sha256) continue;
          const where = sidecars.map((c) => ({ ...c, at: hashes.get(`${at}${c.suffix}`) === c.sha256 ? `${at}${c.suffix}` : `${staged}${c.suffix}` }));
          const missing = where.filter((c) => hashes.get(c.at) !== c.sha256);
          const sent = missing.length === 0 ? 0 : await uploadVerified(sftp, hasher, missing.map((c) => ({ bytes: c.bytes, to: c.at, sha256: c.sha256 })), { device, ctx });
          ctx?.log.info('pushArtifact: artifact already on the device', { deviceId: device.id, at, bytesSent: sent, hashMethod: hasher.method });
          return result(at, sent, true, where[0].at, where[1]?.at);
        }
        const sent = await uploadVerified(sftp, hasher, [
          { local: input.artifact.path, to: staged, sha256, size: sizeBytes },
          ...sidecars.map((c) => ({ bytes: c.bytes, to: `${staged}${c.suffix}`, sha256: c.sha256 })),
        ], { device, ctx, afterUpload: options.afterUpload });
        ctx?.log.info('pushArtifact: staged', { deviceId: device.id, staged, bytesSent: sent, hashMethod: hasher.method, signed: manifest !== undefined });
        return result(staged, sent, false, `${staged}.meta.json`, manifest ? `${staged}${MANIFEST_SUFFIX}` : undefined);
      };

      const first = await stageOnce();
      await writeClaim(sftp, staged, input);
      const servedSha256 = await currentRelease(sftp, device.modelDir);
      if (await stillThere(sftp, first, sizeBytes)) return { ...first, servedSha256 };
      // Another run's discardStaged removed the unclaimed file between our staging and our claim;
      // the claim keeps it now, so staging once more is final.
      const again = await stageOnce();
      return { ...again, bytesSent: first.bytesSent + again.bytesSent, servedSha256 };
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

/**
 * Which release `current` names on the device (releases/<sha256>.<ext>): what it is set to serve
 * while this run holds its lease. null: no link (serves nothing); undefined: a link edgeship did
 * not make (not a release name), so unknown.
 */
async function currentRelease(sftp: Sftp, modelDir: string): Promise<string | null | undefined> {
  const link = await sftp.readlink(`${modelDir}/current`);
  if (link === null) return null;
  const m = /(?:^|\/)releases\/([0-9a-f]{64})\.(?:onnx|hef)$/.exec(link);
  return m ? m[1] : undefined;
}

/**
 * Records that this deployment run needs the staged artifact: `<staged>.claims/<run key>.json`,
 * written under a temporary name and renamed, so a retry simply replaces it. discardStaged of
 * another run keeps the staged file while a claim is there.
 */
async function writeClaim(sftp: Sftp, staged: string, run: PushArtifactInput): Promise<void> {
  const dir = claimsDirOf(staged);
  const claim = `${dir}/${claimFileName(run.deploymentId, run.runId)}`;
  const body = { schema: 'edgeship.staging-claim/1', deploymentId: run.deploymentId, runId: run.runId, sha256: run.artifact.sha256, at: new Date().toISOString() };
  if (!(await sftp.stat(dir))) {
    await sftp.mkdirp(dir);
    // On a packaged device the SSH login is a deploy user, while swapModel and discardStaged,
    // which remove claims, run as the service user of the same group (staging/ is setgid
    // edgeship): the claims directory must be group-writable for them (found by the arm64 proof).
    await sftp.chmod(dir, 0o2775);
  }
  await sftp.writeFile(partialName(claim), Buffer.from(JSON.stringify(body) + '\n'));
  await sftp.replace(partialName(claim), claim);
}

/** The staged model and metadata are still where the result says (checked after claiming). */
async function stillThere(sftp: Sftp, r: PushArtifactResult, sizeBytes: number): Promise<boolean> {
  return (await sftp.stat(r.stagedPath))?.size === sizeBytes && (await sftp.stat(r.stagedMetadataPath)) !== null;
}

async function existingWithSize(sftp: Sftp, candidates: Array<[string, number]>): Promise<string[]> {
  const out: string[] = [];
  for (const [p, size] of candidates) if ((await sftp.stat(p))?.size === size) out.push(p);
  return out;
}

function partialName(finalPath: string): string {
  return `${path.posix.dirname(finalPath)}/.${path.posix.basename(finalPath)}.partial`;
}

type Upload = { to: string; sha256: string } & ({ local: string; size: number } | { bytes: Buffer });

interface UploadContext {
  device: DeviceSpec;
  ctx: Context | undefined;
  afterUpload?: PushArtifactOptions['afterUpload'];
}

/**
 * Uploads each file to its temporary name, verifies all of them on the device, then renames
 * them into place, the model last, so a visible model always has its metadata next to it.
 * Returns the bytes sent.
 */
async function uploadVerified(sftp: Sftp, hasher: RemoteHasher, files: Upload[], u: UploadContext): Promise<number> {
  let bytesSent = 0;
  for (const f of files) {
    const temp = partialName(f.to);
    if ('bytes' in f) {
      await sftp.writeFile(temp, f.bytes);
      bytesSent += f.bytes.length;
      continue;
    }
    let lastBeat = 0;
    await sftp.upload(f.local, temp, (transferred, total) => {
      const now = Date.now();
      if (u.ctx && (now - lastBeat > 1000 || transferred === total)) {
        lastBeat = now;
        u.ctx.heartbeat({ phase: 'upload', bytes: transferred, total });
      }
    });
    await sftp.fsync(temp);
    if (u.afterUpload) await u.afterUpload(u.device, temp);
    bytesSent += f.size;
  }
  u.ctx?.heartbeat({ phase: 'verify', files: files.length });
  const temps = files.map((f) => partialName(f.to));
  const hashes = await hasher.sha256Many(temps);
  const bad = files.filter((f, i) => hashes[i] !== f.sha256);
  if (bad.length > 0) {
    for (const t of temps) await sftp.unlinkIfExists(t);
    throw ApplicationFailure.create({
      type: ErrorType.ArtifactShaMismatch,
      nonRetryable: false,
      message: `on device ${u.device.id}, ${bad.map((f) => `${path.posix.basename(f.to)} hashed to ${hashes[files.indexOf(f)]} (expected ${f.sha256})`).join('; ')} after upload; the upload was discarded`,
    });
  }
  for (const f of [...files].reverse()) await sftp.replace(partialName(f.to), f.to);
  return bytesSent;
}
