// Promise wrappers over the ssh2 SFTP operations pushArtifact needs, with the atomic-replace
// rename and fsync extensions used where the server offers them.
import { createHash } from 'node:crypto';
import type { Client, SFTPWrapper, Stats } from 'ssh2';

const NO_SUCH_FILE = 2;

function isNoSuchFile(err: unknown): boolean {
  return (err as { code?: number })?.code === NO_SUCH_FILE;
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

export class Sftp {
  private readonly lost: Promise<never>;

  /**
   * ssh2 does not fail SFTP requests that are in flight when the connection dies (a request
   * sent after the socket closed waits forever), so every operation also races the connection's
   * close. Keepalives turn a silently dead peer into a close as well.
   */
  constructor(readonly sftp: SFTPWrapper, connection: Client) {
    this.lost = new Promise<never>((_, reject) => {
      connection.once('close', () => reject(new Error('Connection lost to the device')));
    });
    this.lost.catch(() => undefined); // observed through guard(); unobserved when nothing is pending
  }

  /** Fails `p` as soon as the connection is lost. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.lost]);
  }

  private op<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return this.guard(call(fn));
  }

  /** The target a symlink names, or null when there is no such link. */
  async readlink(p: string): Promise<string | null> {
    try {
      return await this.op<string>((cb) => this.sftp.readlink(p, cb));
    } catch (err) {
      if (isNoSuchFile(err)) return null;
      throw err;
    }
  }

  /** stat, or null when the path does not exist. */
  async stat(p: string): Promise<Stats | null> {
    try {
      return await this.op<Stats>((cb) => this.sftp.stat(p, cb));
    } catch (err) {
      if (isNoSuchFile(err)) return null;
      throw err;
    }
  }

  /**
   * mkdir -p for an absolute path. Walks up only as far as directories are missing, so servers
   * that confine the session (chroot, our embedded server) never see a stat of what lies above.
   * Tolerates directories that appear concurrently.
   */
  async mkdirp(dir: string): Promise<void> {
    const st = await this.stat(dir);
    if (st?.isDirectory()) return;
    if (st) throw new Error(`${dir} exists and is not a directory`);
    const parent = dir.slice(0, dir.lastIndexOf('/')) || '/';
    if (parent !== dir) await this.mkdirp(parent);
    try {
      // 0775 less the server's umask: 0755 under sshd's default, but 2775 in a packaged device's
      // setgid staging/ with `internal-sftp -u 0002`, so the device's service user (same group)
      // can remove the claims this upload leaves in such a directory (docs/install-device.md).
      await this.op<void>((cb) => this.sftp.mkdir(dir, { mode: 0o775 }, cb));
    } catch (err) {
      if (!(await this.stat(dir))?.isDirectory()) throw err;
    }
  }

  /** chmod (not subject to the server's umask, unlike the mode given to mkdir). */
  async chmod(p: string, mode: number): Promise<void> {
    await this.op<void>((cb) => this.sftp.chmod(p, mode, cb));
  }

  async unlinkIfExists(p: string): Promise<boolean> {
    try {
      await this.op<void>((cb) => this.sftp.unlink(p, cb));
      return true;
    } catch (err) {
      if (isNoSuchFile(err)) return false;
      throw err;
    }
  }

  /**
   * Renames over an existing target atomically: posix-rename@openssh.com where offered; plain
   * SFTP rename otherwise (which on servers built on rename(2), like ours, also replaces).
   */
  async replace(from: string, to: string): Promise<void> {
    try {
      await this.op<void>((cb) => this.sftp.ext_openssh_rename(from, to, cb));
      return;
    } catch (err) {
      if (!/does not support/i.test((err as Error).message)) throw err;
    }
    await this.op<void>((cb) => this.sftp.rename(from, to, cb));
  }

  /** Flushes a remote file to stable storage before it is renamed into place, when supported. */
  async fsync(p: string): Promise<boolean> {
    const handle = await this.op<Buffer>((cb) => this.sftp.open(p, 'r', cb));
    try {
      await this.op<void>((cb) => this.sftp.ext_openssh_fsync(handle, cb));
      return true;
    } catch (err) {
      if (/does not support/i.test((err as Error).message)) return false;
      throw err;
    } finally {
      await this.op<void>((cb) => this.sftp.close(handle, cb)).catch(() => undefined);
    }
  }

  async upload(local: string, remote: string, onProgress: (transferred: number, total: number) => void): Promise<void> {
    await this.op<void>((cb) => this.sftp.fastPut(local, remote, { step: (transferred, _chunk, total) => onProgress(transferred, total) }, (err) => cb(err)));
  }

  async writeFile(remote: string, data: Buffer): Promise<void> {
    await this.op<void>((cb) => this.sftp.writeFile(remote, data, (err) => cb(err)));
  }

  /** sha256 of a remote file by streaming it back: for devices without a usable sha256sum. */
  async sha256(remote: string): Promise<string> {
    const hash = createHash('sha256');
    await this.guard(new Promise<void>((resolve, reject) => {
      const stream = this.sftp.createReadStream(remote);
      stream.on('data', (chunk: Buffer) => hash.update(chunk));
      stream.on('error', reject);
      stream.on('end', () => resolve());
    }));
    return hash.digest('hex');
  }
}
