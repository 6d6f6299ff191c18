// The fallback SSH server for simulated devices on machines without OpenSSH's sshd: an ssh2
// Server with the device's generated, pinned host key, public-key-only authentication for one
// user and one key, SFTP confined to the device directory, and `exec` of exactly
// `sha256sum -- <path>` implemented in-process (there is no shell to run anything else), and
// channels to the device's own loopback (direct-tcpip), as the OpenSSH devices allow.
import { promises as fsp, readFileSync, realpathSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import { Server, utils, type Attributes, type Connection, type SFTPWrapper } from 'ssh2';
import { sha256File } from '../lib/hashing';

const { STATUS_CODE } = utils.sftp;

export interface EmbeddedSshServerOptions {
  /** Everything the client may touch lives under this directory. */
  rootDir: string;
  hostKeyPath: string;
  /** The one public key (`ssh-ed25519 AAAA…`) allowed to log in. */
  authorizedKey: string;
  user?: string;
  port?: number;
  /** Refuse exec channels altogether (to exercise the SFTP read-back verification path). */
  exec?: boolean;
}

export interface EmbeddedSshServer {
  kind: 'embedded';
  port: number;
  stop(): Promise<void>;
}

class Confinement {
  readonly root: string;
  constructor(rootDir: string) {
    this.root = realpathSync(rootDir);
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root + '/');
  }

  /**
   * Resolves a client path to a real path under the root, following symlinks of the existing
   * part so a link cannot lead outside. `final` false keeps a trailing symlink itself (lstat,
   * remove, rename), true follows it.
   */
  resolve(clientPath: string, followFinal = true): string {
    const abs = path.posix.resolve(this.root, clientPath);
    if (!this.inside(abs)) throw Object.assign(new Error(`outside the device: ${clientPath}`), { sftpCode: STATUS_CODE.PERMISSION_DENIED });
    let dir = followFinal ? abs : path.posix.dirname(abs);
    const rest: string[] = followFinal ? [] : [path.posix.basename(abs)];
    for (;;) {
      try {
        const real = path.posix.join(realpathSync(dir), ...rest);
        if (!this.inside(real)) throw Object.assign(new Error(`outside the device: ${clientPath}`), { sftpCode: STATUS_CODE.PERMISSION_DENIED });
        return real;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir === this.root) throw err;
        rest.unshift(path.posix.basename(dir));
        dir = path.posix.dirname(dir);
      }
    }
  }
}

function attrsOf(st: Stats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function statusFor(err: unknown): number {
  const e = err as NodeJS.ErrnoException & { sftpCode?: number };
  if (e.sftpCode !== undefined) return e.sftpCode;
  if (e.code === 'ENOENT') return STATUS_CODE.NO_SUCH_FILE;
  if (e.code === 'EACCES' || e.code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

type OpenHandle = { kind: 'file'; fh: fsp.FileHandle } | { kind: 'dir'; dir: string; listed: boolean };

/** Serves one SFTP session with Node's fs, confined to the root. */
function serveSftp(sftp: SFTPWrapper, jail: Confinement): void {
  const handles = new Map<number, OpenHandle>();
  let nextHandle = 1;
  const newHandle = (h: OpenHandle) => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  };
  const lookup = (buf: Buffer) => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  // Each request runs to completion or answers with an SFTP status; no request can crash the server.
  const run = (reqId: number, fn: () => Promise<void>) => {
    fn().catch((err: unknown) => sftp.status(reqId, statusFor(err), (err as Error).message));
  };
  const file = (buf: Buffer) => {
    const h = lookup(buf);
    if (h?.kind !== 'file') throw Object.assign(new Error('bad handle'), { sftpCode: STATUS_CODE.FAILURE });
    return h.fh;
  };

  sftp.on('OPEN', (reqId, filename, flags, attrs) => run(reqId, async () => {
    const mode = utils.sftp.flagsToString(flags);
    if (!mode) throw Object.assign(new Error('unsupported open flags'), { sftpCode: STATUS_CODE.OP_UNSUPPORTED });
    const fh = await fsp.open(jail.resolve(filename), mode, attrs?.mode ?? 0o644);
    sftp.handle(reqId, newHandle({ kind: 'file', fh }));
  }));
  sftp.on('READ', (reqId, handle, offset, length) => run(reqId, async () => {
    const buf = Buffer.alloc(Math.min(length, 256 * 1024));
    const { bytesRead } = await file(handle).read(buf, 0, buf.length, offset);
    if (bytesRead === 0) sftp.status(reqId, STATUS_CODE.EOF);
    else sftp.data(reqId, buf.subarray(0, bytesRead));
  }));
  sftp.on('WRITE', (reqId, handle, offset, data) => run(reqId, async () => {
    await file(handle).write(data, 0, data.length, offset);
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('FSTAT', (reqId, handle) => run(reqId, async () => sftp.attrs(reqId, attrsOf(await file(handle).stat()))));
  sftp.on('FSETSTAT', (reqId, handle, attrs) => run(reqId, async () => {
    if (attrs.mode !== undefined) await file(handle).chmod(attrs.mode);
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('CLOSE', (reqId, handle) => run(reqId, async () => {
    const h = lookup(handle);
    if (!h) throw Object.assign(new Error('bad handle'), { sftpCode: STATUS_CODE.FAILURE });
    handles.delete(handle.readUInt32BE(0));
    if (h.kind === 'file') await h.fh.close();
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('STAT', (reqId, p) => run(reqId, async () => sftp.attrs(reqId, attrsOf(await fsp.stat(jail.resolve(p))))));
  sftp.on('LSTAT', (reqId, p) => run(reqId, async () => sftp.attrs(reqId, attrsOf(await fsp.lstat(jail.resolve(p, false))))));
  sftp.on('SETSTAT', (reqId, p, attrs) => run(reqId, async () => {
    if (attrs.mode !== undefined) await fsp.chmod(jail.resolve(p), attrs.mode);
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('MKDIR', (reqId, p, attrs) => run(reqId, async () => {
    await fsp.mkdir(jail.resolve(p), { mode: attrs?.mode ?? 0o755 });
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('RMDIR', (reqId, p) => run(reqId, async () => {
    await fsp.rmdir(jail.resolve(p, false));
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('REMOVE', (reqId, p) => run(reqId, async () => {
    await fsp.unlink(jail.resolve(p, false));
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  // rename(2) replaces the target atomically, which is what staging relies on.
  sftp.on('RENAME', (reqId, from, to) => run(reqId, async () => {
    await fsp.rename(jail.resolve(from, false), jail.resolve(to, false));
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('REALPATH', (reqId, p) => run(reqId, async () => {
    const real = jail.resolve(p);
    sftp.name(reqId, [{ filename: real, longname: real, attrs: {} as Attributes }]);
  }));
  sftp.on('READLINK', (reqId, p) => run(reqId, async () => {
    const target = await fsp.readlink(jail.resolve(p, false));
    sftp.name(reqId, [{ filename: target, longname: target, attrs: {} as Attributes }]);
  }));
  sftp.on('SYMLINK', (reqId, linkPath, targetPath) => run(reqId, async () => {
    const link = jail.resolve(linkPath, false);
    // The target must stay inside too, judged from the link's directory.
    jail.resolve(path.posix.resolve(path.posix.dirname(link), targetPath));
    await fsp.symlink(targetPath, link);
    sftp.status(reqId, STATUS_CODE.OK);
  }));
  sftp.on('OPENDIR', (reqId, p) => run(reqId, async () => {
    const dir = jail.resolve(p);
    if (!(await fsp.stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { sftpCode: STATUS_CODE.FAILURE });
    sftp.handle(reqId, newHandle({ kind: 'dir', dir, listed: false }));
  }));
  sftp.on('READDIR', (reqId, handle) => run(reqId, async () => {
    const h = lookup(handle);
    if (h?.kind !== 'dir') throw Object.assign(new Error('bad handle'), { sftpCode: STATUS_CODE.FAILURE });
    if (h.listed) return void sftp.status(reqId, STATUS_CODE.EOF);
    h.listed = true;
    const names = await fsp.readdir(h.dir);
    const entries = await Promise.all(names.map(async (filename) => {
      const st = await fsp.lstat(path.join(h.dir, filename));
      return { filename, longname: filename, attrs: attrsOf(st) };
    }));
    if (entries.length === 0) sftp.status(reqId, STATUS_CODE.EOF);
    else sftp.name(reqId, entries);
  }));
  sftp.on('end', () => {
    for (const h of handles.values()) if (h.kind === 'file') void h.fh.close().catch(() => undefined);
    handles.clear();
  });
}

/** Splits a command line made of plain words and POSIX single-quoted strings; null otherwise. */
export function splitQuotedWords(command: string): string[] | null {
  const words: string[] = [];
  const re = /\s*(?:'((?:[^']|'\\'')*)'|([A-Za-z0-9_./@+=:-]+))(?=\s|$)/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < command.length && (m = re.exec(command))) {
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]);
    pos = re.lastIndex;
    if (/^\s*$/.test(command.slice(pos))) return words;
  }
  return pos >= command.length ? words : null;
}

export async function startEmbeddedSshServer(opts: EmbeddedSshServerOptions): Promise<EmbeddedSshServer> {
  const jail = new Confinement(opts.rootDir);
  const user = opts.user ?? 'root';
  const allowed = utils.parseKey(opts.authorizedKey);
  if (allowed instanceof Error) throw new Error(`authorized key: ${allowed.message}`);
  const allowedKey = Array.isArray(allowed) ? allowed[0] : allowed;
  const clients = new Set<Connection>();

  const server = new Server({ hostKeys: [readFileSync(opts.hostKeyPath)] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined); // a client that vanishes is not the server's problem
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== user) return ctx.reject(['publickey']);
      if (ctx.key.algo !== allowedKey.type || !ctx.key.data.equals(allowedKey.getPublicSSH())) return ctx.reject(['publickey']);
      if (ctx.signature && ctx.blob && allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      // Like the OpenSSH devices (AllowTcpForwarding local, PermitOpen 127.0.0.1:*): a channel to
      // the device's own loopback only, so `edgeship devices check` can read the runtime's /healthz.
      client.on('tcpip', (accept, reject, info) => {
        if (info.destIP !== '127.0.0.1' && info.destIP !== 'localhost') return reject();
        const socket = connect(info.destPort, '127.0.0.1');
        socket.once('error', () => reject());
        socket.once('connect', () => {
          const channel = accept();
          socket.removeAllListeners('error');
          socket.on('error', () => channel.destroy());
          channel.on('error', () => socket.destroy());
          channel.pipe(socket).pipe(channel);
        });
      });
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (accept) => serveSftp(accept(), jail));
        session.on('exec', (accept, reject, info) => {
          if (opts.exec === false) return reject();
          const stream = accept();
          const words = splitQuotedWords(info.command);
          const finish = (code: number, out: string, err = '') => {
            if (out) stream.write(out);
            if (err) stream.stderr.write(err);
            stream.exit(code);
            stream.end();
          };
          if (!words || words.length !== 3 || words[0] !== 'sha256sum' || words[1] !== '--') {
            return finish(127, '', `${words?.[0] ?? 'command'}: not supported by the embedded SSH server (only "sha256sum -- <path>")\n`);
          }
          let target: string;
          try {
            target = jail.resolve(words[2]);
          } catch (err) {
            return finish(1, '', `sha256sum: ${words[2]}: ${(err as Error).message}\n`);
          }
          sha256File(target).then(
            (hex) => finish(0, `${hex}  ${words[2]}\n`),
            (err: unknown) => finish(1, '', `sha256sum: ${words[2]}: ${(err as Error).message}\n`),
          );
        });
        // No shell, no pty: nothing else is offered.
        session.on('shell', (_accept, reject) => reject());
        session.on('pty', (_accept, reject) => reject?.());
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let stopped: Promise<void> | undefined;
  return {
    kind: 'embedded',
    port,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        for (const c of clients) c.end();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
