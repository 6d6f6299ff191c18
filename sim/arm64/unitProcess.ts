// Runs a systemd service unit's process inside the emulated arm64 root as systemd would on the
// device, from the installed unit file itself: ExecStartPre then ExecStart, as User=/Group= (with
// their supplementary groups), in WorkingDirectory=, with only the environment systemd gives a
// service (PATH, and HOME/USER/LOGNAME/SHELL of User=) plus Environment= and EnvironmentFile=,
// NoNewPrivileges= through setpriv, UMask=, TimeoutStopSec= on stop, Restart=/RestartSec=/RestartPreventExitStatus= by starting it
// again when it exits, and [Unit] ConditionPathExists= by refusing to start it.
// The one addition is QEMU_CPU=cortex-a76 (emulation, not the unit). What a chroot cannot mirror
// (ProtectSystem=, PrivateTmp=, CapabilityBoundingSet=, …) is listed in `notMirrored`.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { EmulatedArm64Root, RootProcess } from './emulatedRoot';
import { parseEnvironmentFile, parseServiceUnit, restartsAfter, type ServiceUnit, UnitFileError } from './unitFile';

export interface RunningUnit {
  name: string;
  unit: ServiceUnit;
  /** How many times the process was started (1 + restarts). */
  starts(): number;
  current(): RootProcess | undefined;
  /** Stops supervising, then SIGTERMs the process (SIGKILL after the grace) as `systemctl stop` would. */
  stop(): Promise<void>;
}

function passwdEntry(root: EmulatedArm64Root, user: string): { home: string; shell: string } {
  const line = readFileSync(root.hostPath('/etc/passwd'), 'utf8').split('\n').find((l) => l.split(':')[0] === user);
  if (!line) throw new UnitFileError(`User=${user} does not exist in the root (the package's postinst creates it)`);
  const f = line.split(':');
  return { home: f[5], shell: f[6] };
}

/** The environment systemd gives the unit's process (systemd.exec "Environment variables in spawned processes"). */
export function unitEnvironment(root: EmulatedArm64Root, unit: ServiceUnit): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin' };
  if (unit.user) {
    const pw = passwdEntry(root, unit.user);
    Object.assign(env, { HOME: pw.home, USER: unit.user, LOGNAME: unit.user, SHELL: pw.shell });
  }
  Object.assign(env, unit.environment);
  for (const file of unit.environmentFiles) {
    const host = root.hostPath(file.path);
    if (!existsSync(host)) {
      if (file.optional) continue;
      throw new UnitFileError(`EnvironmentFile=${file.path} is missing`);
    }
    Object.assign(env, parseEnvironmentFile(readFileSync(host, 'utf8')));
  }
  return env;
}

/** Reads `/lib/systemd/system/<name>` (or /usr/lib/…) from the root and starts it. */
export async function startUnit(root: EmulatedArm64Root, name: string, logFile: string): Promise<RunningUnit> {
  const file = ['/lib/systemd/system', '/usr/lib/systemd/system'].map((d) => `${d}/${name}`).find((p) => existsSync(root.hostPath(p)));
  if (!file) throw new UnitFileError(`${name} is not installed in the root`);
  const unit = parseServiceUnit(readFileSync(root.hostPath(file), 'utf8'), name);
  for (const cond of unit.conditionPathExists) {
    const negate = cond.startsWith('!');
    const p = negate ? cond.slice(1) : cond;
    if (existsSync(root.hostPath(p)) === negate) throw new UnitFileError(`${name}: ConditionPathExists=${cond} is not met: systemd would not start it`);
  }
  if (unit.supplementaryGroups.length > 0) throw new UnitFileError(`${name}: SupplementaryGroups= is not mirrored (setpriv --init-groups gives the user's own groups)`);
  const env = unitEnvironment(root, unit);
  const as = { user: unit.user, group: unit.group, env, cwd: unit.workingDirectory ?? (unit.user ? env.HOME : '/'), noNewPrivs: unit.noNewPrivileges, umask: unit.umask };
  for (const pre of unit.execStartPre) {
    const r = await root.exec(pre.argv, as);
    appendFileSync(logFile, r.stdout + r.stderr);
    if (r.code !== 0 && !pre.ignoreFailure) throw new Error(`${name}: ExecStartPre ${pre.argv.join(' ')} exited ${r.code}:\n${(r.stderr + r.stdout).slice(-2000)}`);
  }
  let stopping = false;
  let starts = 0;
  let proc: RootProcess | undefined;
  const launch = () => {
    starts++;
    appendFileSync(logFile, `--- ${new Date().toISOString()} ${name}: start ${starts}: ${unit.execStart.join(' ')}\n`);
    const p = root.spawn(unit.execStart, { ...as, logFile });
    proc = p;
    void p.exited.then((code) => {
      if (stopping) return;
      appendFileSync(logFile, `--- ${new Date().toISOString()} ${name}: exited ${code}${restartsAfter(unit, code) ? `, restarting in ${unit.restartSecMs} ms (Restart=${unit.restart})` : ''}\n`);
      if (restartsAfter(unit, code)) setTimeout(() => (stopping ? undefined : launch()), unit.restartSecMs);
    });
  };
  launch();
  return {
    name,
    unit,
    starts: () => starts,
    current: () => proc,
    stop: async () => {
      stopping = true;
      await proc?.stop(unit.timeoutStopMs);
    },
  };
}
