// An arm64 Debian root restored from the cached tarball and run on this x86-64 machine through
// qemu-aarch64 (binfmt_misc, F flag) with QEMU_CPU=cortex-a76, the Raspberry Pi 5's core.
//
// Everything inside runs in one private mount and PID namespace, held by an anchor process:
//   setpriv --pdeathsig KILL -- unshare --mount --pid --fork --kill-child --propagation private -- sleep infinity
// The namespace's mounts (proc, a Pi 5 /proc/cpuinfo bound over it, /dev, /sys read-only, tmpfs
// on /run and /tmp) exist only in that namespace, never on the host. Stopping the root kills the
// anchor, PID 1 of the namespace, and the kernel then kills every process in it (sshd, runtime,
// edge worker, whatever they forked), which frees the mounts; if this Node process dies first,
// pdeathsig does the same. So a crashed test leaves neither processes nor mounts behind.
//
// Why the cpuinfo: qemu 7.2 passes the host's x86 /proc/cpuinfo through, and onnxruntime's CPU
// detection on arm64 crashes parsing it; a Pi 5 reads its own (four Cortex-A76 cores).
//
// Processes enter with nsenter + chroot and, like a systemd unit, an explicit environment
// (`env -i`), working directory (`env -C`) and user (`setpriv --reuid/--regid --init-groups`):
// argv all the way, never a shell.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Arm64EmulationUnavailable } from './rootCache';

/** The Pi 5's core; every process in the root carries it (qemu reads it at each exec). */
export const QEMU_CPU = 'cortex-a76';
export const PI5_CPUINFO = process.env.EDGESHIP_PI5_CPUINFO || '/work/shared/reference/pi5-cpuinfo';
const MARKER = '.edgeship-arm64-root';
const ROOT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunAs {
  /** User name inside the root (setpriv --reuid, its primary group unless `group`, --init-groups). Default root. */
  user?: string;
  group?: string;
  /** The whole environment of the process besides QEMU_CPU and PATH (default none, like systemd). */
  env?: Record<string, string>;
  /** Working directory inside the root (default /). */
  cwd?: string;
  /** setpriv --no-new-privs (a unit's NoNewPrivileges=yes). */
  noNewPrivs?: boolean;
  /** The process's umask (a unit's UMask=); default this process's. */
  umask?: number;
}

export interface RootProcess {
  /** Host pid of the nsenter that waits for the process. */
  pid: number;
  /** Host pid of the process itself (nsenter's child), while it runs. */
  innerPid(): number | undefined;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  isRunning(): boolean;
  /** SIGTERM (then SIGKILL after `graceMs`) the process inside and wait for it. */
  stop(graceMs?: number): Promise<void>;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(child: ChildProcess, input?: string | Buffer): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (child.stdin) child.stdin.end(input ?? '');
  });
}

/** Removes scratch roots under `parent` that a killed run left (marked by us, anchor gone). */
export function removeLeftoverRoots(parent: string): string[] {
  if (!existsSync(parent)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    const dir = path.join(parent, name);
    const marker = path.join(dir, MARKER);
    if (!name.startsWith('root-') || !existsSync(marker)) continue;
    const anchor = Number(readFileSync(marker, 'utf8').trim());
    if (Number.isInteger(anchor) && anchor > 1 && alive(anchor)) continue;
    if (mountedUnder(dir)) continue; // never delete through a mount
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** True when the host's mount table has anything at or under `dir`. */
export function mountedUnder(dir: string): boolean {
  const real = path.resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => {
    const mountPoint = line.split(' ')[4];
    return mountPoint !== undefined && (mountPoint === real || mountPoint.startsWith(`${real}/`));
  });
}

export interface StartOptions {
  tarball: string;
  /** A scratch root `root-XXXXXX` is made in here (leftovers of killed runs are removed first). */
  parent: string;
  log?: (line: string) => void;
}

export class EmulatedArm64Root {
  private constructor(
    readonly dir: string,
    private readonly anchor: ChildProcess,
    /** Host pid of the namespace's PID 1. */
    readonly nsPid: number,
    /** Milliseconds the tarball took to restore. */
    readonly restoreMs: number,
  ) {}

  /** Restores the tarball into a fresh scratch directory and sets up the namespace. */
  static async start(opts: StartOptions): Promise<EmulatedArm64Root> {
    if (!existsSync(PI5_CPUINFO)) throw new Arm64EmulationUnavailable(`${PI5_CPUINFO} (a Pi 5's /proc/cpuinfo) is missing; set EDGESHIP_PI5_CPUINFO`);
    mkdirSync(opts.parent, { recursive: true });
    for (const d of removeLeftoverRoots(opts.parent)) opts.log?.(`removed the leftover arm64 root ${d}`);
    const dir = mkdtempSync(path.join(opts.parent, 'root-'));
    writeFileSync(path.join(dir, MARKER), '0\n');
    const started = Date.now();
    const untar = await collect(spawn('tar', ['--zstd', '-xpf', opts.tarball, '-C', dir, '--numeric-owner'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    if (untar.code !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`restoring ${opts.tarball} failed (tar exit ${untar.code}): ${untar.stderr.slice(-1500)}`);
    }
    const restoreMs = Date.now() - started;

    const anchor = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--', 'sleep', 'infinity'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let anchorErr = '';
    anchor.stderr?.on('data', (c: Buffer) => (anchorErr += c.toString()));
    const pid = anchor.pid;
    let nsPid: number | undefined;
    for (let i = 0; i < 100 && pid !== undefined && anchor.exitCode === null; i++) {
      nsPid = childrenOf(pid)[0];
      if (nsPid) break;
      await sleep(50);
    }
    if (!nsPid) {
      anchor.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Arm64EmulationUnavailable(`cannot make a private mount and PID namespace (unshare): ${anchorErr.trim() || `exit ${anchor.exitCode}`}`);
    }
    writeFileSync(path.join(dir, MARKER), `${nsPid}\n`);
    const root = new EmulatedArm64Root(dir, anchor, nsPid, restoreMs);
    try {
      await root.mountAll();
    } catch (err) {
      await root.stop();
      throw err;
    }
    return root;
  }

  /** Host path of a path inside the root. */
  hostPath(inside: string): string {
    const rel = path.posix.normalize(inside).replace(/^\/+/, '');
    if (rel.startsWith('..')) throw new Error(`not a path inside the root: ${inside}`);
    return path.join(this.dir, rel);
  }

  private async nsenterHost(argv: string[], pidNs = false): Promise<void> {
    const r = await collect(spawn('nsenter', ['--target', String(this.nsPid), '--mount', ...(pidNs ? ['--pid'] : []), '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }));
    if (r.code !== 0) throw new Error(`${argv.join(' ')} in the root's namespace failed (exit ${r.code}): ${r.stderr.trim()}`);
  }

  private async mountAll(): Promise<void> {
    const at = (p: string) => this.hostPath(p);
    // proc of the namespace's own PID space: the device sees only its own processes.
    await this.nsenterHost(['mount', '-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', at('/proc')], true);
    await this.nsenterHost(['mount', '--bind', PI5_CPUINFO, at('/proc/cpuinfo')]);
    // /dev with its submounts (/dev/pts: apt and dpkg open a pseudo-terminal for their log).
    await this.nsenterHost(['mount', '--rbind', '/dev', at('/dev')]);
    await this.nsenterHost(['mount', '--rbind', '-o', 'ro', '/sys', at('/sys')]);
    await this.nsenterHost(['mount', '-t', 'tmpfs', '-o', 'mode=0755,nosuid,nodev', 'tmpfs', at('/run')]);
    await this.nsenterHost(['mount', '-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', 'tmpfs', at('/tmp')]);
  }

  /** argv of nsenter … chroot … env … [setpriv …] <argv> and the environment qemu needs to see. */
  private command(argv: string[], as: RunAs): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    const env = { ...(as.env ?? {}), PATH: as.env?.PATH ?? ROOT_PATH_ENV, QEMU_CPU };
    const user = as.user && as.user !== 'root'
      ? ['/usr/bin/setpriv', `--reuid=${as.user}`, `--regid=${as.group ?? as.user}`, '--init-groups', ...(as.noNewPrivs ? ['--no-new-privs'] : []), '--']
      : as.noNewPrivs ? ['/usr/bin/setpriv', '--no-new-privs', '--'] : [];
    const args = [
      '--target', String(this.nsPid), '--mount', '--pid', '--',
      'chroot', this.dir,
      '/usr/bin/env', '-i', '-C', as.cwd ?? '/', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...user, ...argv,
    ];
    // QEMU_CPU must be in the environment of the first arm64 binary (env) already.
    return { cmd: 'nsenter', args, env: { PATH: process.env.PATH, QEMU_CPU } };
  }

  /** Runs a command inside the root to its end. */
  async exec(argv: string[], as: RunAs & { input?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const { cmd, args, env } = this.command(argv, as);
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = as.timeoutMs ? setTimeout(() => this.killInner(child.pid, 'SIGKILL'), as.timeoutMs) : undefined;
    try {
      return await collect(child, as.input);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Like exec, but a non-zero exit is an error carrying the command's output. */
  async run(argv: string[], as: RunAs & { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(argv, as);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} inside the arm64 root exited ${r.code}:\n${(r.stderr + r.stdout).trim().slice(-3000)}`);
    return r.stdout;
  }

  private killInner(nsenterPid: number | undefined, signal: NodeJS.Signals): void {
    if (nsenterPid === undefined) return;
    for (const pid of childrenOf(nsenterPid)) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
  }

  /** Starts a long-running process inside the root, its output appended to `logFile` (a host path). */
  spawn(argv: string[], as: RunAs & { logFile: string }): RootProcess {
    const { cmd, args, env } = this.command(argv, as);
    const log = openSync(as.logFile, 'a');
    // A child inherits the umask at fork, which spawn() does synchronously: set it around the call.
    const previous = as.umask === undefined ? undefined : process.umask(as.umask);
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { env, stdio: ['ignore', log, log] });
    } finally {
      if (previous !== undefined) process.umask(previous);
      closeSync(log);
    }
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]} in the arm64 root`);
    let code: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve((code = c))));
    const nsenterPid = child.pid;
    return {
      pid: nsenterPid,
      innerPid: () => childrenOf(nsenterPid)[0],
      exited,
      isRunning: () => code === undefined,
      stop: async (graceMs = 10_000) => {
        if (code !== undefined) return;
        this.killInner(nsenterPid, 'SIGTERM');
        const timer = setTimeout(() => this.killInner(nsenterPid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  }

  /**
   * Kills every process of the root (the namespace's PID 1 first: the kernel kills the rest),
   * then removes the scratch directory — after checking that no mount of it is visible here.
   */
  async stop(): Promise<void> {
    try {
      process.kill(this.nsPid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (this.anchor.exitCode === null && this.anchor.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        this.anchor.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (mountedUnder(this.dir)) throw new Error(`a mount under ${this.dir} is visible on the host; not removing it`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
