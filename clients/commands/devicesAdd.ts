// edgeship devices add: enroll a device from the GPU server (clients/enrollment.ts).
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { COMPILE_TARGETS } from '../../common/contracts';
import { defaultInventoryPath } from '../../lib/inventory';
import { stateDir } from '../../lib/paths';
import { DEVICE_PACKAGE_DEFAULTS, defaultPrivateKeyPath, enrollDevice, EnrollmentError, type EnrollIo, type EnrollOptions } from '../enrollment';
import type { PresentedHostKey } from '../hostKey';
import { printJson, UserError } from './shared';

/** The command line's values: as the enrollment takes them, with the numbers and argv still text. */
type AddFlags = Omit<EnrollOptions, 'id' | 'port' | 'restartCommand' | 'keepBackups'> & {
  port: string;
  restartCommand: string;
  keepBackups?: string;
  json?: boolean;
};

export function inventoryOption(): Option {
  return new Option('--inventory <file>', 'device inventory (JSON)').env('EDGESHIP_INVENTORY').default(defaultInventoryPath(stateDir()));
}

function parseArgv(text: string): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(text);
  } catch {
    throw new UserError(`--restart-command must be a JSON array of strings (an argv, run without a shell), e.g. '["/usr/bin/systemctl","restart","edgeship-runtime"]'`, 2);
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new UserError('--restart-command must be a non-empty JSON array of non-empty strings (an argv, run without a shell)', 2);
  }
  return argv as string[];
}

function intFlag(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UserError(`${name} ${JSON.stringify(value)} is not a whole number`, 2);
  return Number(value);
}

/** y/N on the terminal; anything but y/yes is a no. The question goes to stderr, so --json stays clean. */
async function askOnTerminal(presented: PresentedHostKey, where: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Compare it with the device's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_${presented.keyType === 'ssh-ed25519' ? 'ed25519' : presented.keyType.startsWith('ecdsa') ? 'ecdsa' : 'rsa'}_key.pub).\nPin ${presented.keyType} ${presented.fingerprint} for ${where}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function devicesAddCommand(): Command {
  return new Command('add')
    .description('enroll a device: fetch and pin its SSH host key, write its inventory entry')
    .argument('<device-id>', 'new device id (1-63 lowercase letters, digits, dashes)')
    .requiredOption('--host <host>', 'the device\'s address as the GPU server reaches it')
    .option('--port <n>', 'SSH port', '22')
    .requiredOption('--user <user>', 'deploy user the GPU server logs in as (the device package\'s group edgeship; writes only staging/)')
    .addOption(new Option('--target <target>', 'what the device runs').choices([...COMPILE_TARGETS]).makeOptionMandatory())
    .option('--key <file>', 'the GPU server\'s SSH private key the device authorizes', defaultPrivateKeyPath())
    .option('--host-key-fingerprint <SHA256:…>', 'the device\'s host key fingerprint as read on the device; a different key is refused (needed when there is no terminal to confirm on)')
    .option('--model-dir <dir>', 'model directory on the device', DEVICE_PACKAGE_DEFAULTS.modelDir)
    .option('--health-url <url>', 'runtime /healthz as seen on the device', DEVICE_PACKAGE_DEFAULTS.healthUrl)
    .option('--inference-url <url>', 'runtime /infer as seen on the device', DEVICE_PACKAGE_DEFAULTS.inferenceUrl)
    .option('--restart-command <json-argv>', 'argv an edge worker that reads this inventory runs to restart the runtime (no shell); the device package\'s worker follows its device.json instead', JSON.stringify(DEVICE_PACKAGE_DEFAULTS.restartCommand))
    .option('--keep-backups <n>', 'distinct model versions kept in backups/ (default 3)')
    .addOption(inventoryOption())
    .addOption(new Option('--json', 'machine-readable output (JSON on stdout)'))
    .addHelpText('after', `
The host key is fetched over SSH itself (no login) and shown as OpenSSH prints it
(ssh-ed25519 SHA256:…). On a terminal you are asked to confirm it against the device's own
(on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). Without a terminal,
--host-key-fingerprint is required, and a device presenting another key is refused.

The entry is checked with the inventory schema together with every existing entry, an id
already present is refused, and the file is replaced atomically (temp file, fsync, rename).
Any refusal leaves the inventory file exactly as it was. The defaults for --model-dir,
--health-url, --inference-url and --restart-command are what the edgeship device package
installs. Then: edgeship devices check <device-id>.

Examples:
  edgeship devices add pi-07 --host 10.0.4.17 --user edgeship-deploy --target hailo8
  edgeship devices add pi-08 --host 10.0.4.18 --user edgeship-deploy --target cpu-int8 \\
    --host-key-fingerprint SHA256:4Hq2B0tX6y9cI1… --inventory /etc/edgeship/inventory.json`)
    .action(async (id: string, flags: AddFlags) => {
      const io: EnrollIo = {
        presented: (p, where) => process.stderr.write(`${id}: ${where} presents ${p.keyType} ${p.fingerprint}\n`),
        ...(process.stdin.isTTY && flags.hostKeyFingerprint === undefined ? { confirm: askOnTerminal } : {}),
      };
      try {
        const result = await enrollDevice({
          inventory: flags.inventory,
          id,
          host: flags.host,
          port: intFlag('--port', flags.port),
          user: flags.user,
          target: flags.target,
          key: flags.key,
          hostKeyFingerprint: flags.hostKeyFingerprint,
          modelDir: flags.modelDir,
          healthUrl: flags.healthUrl,
          inferenceUrl: flags.inferenceUrl,
          restartCommand: parseArgv(flags.restartCommand),
          ...(flags.keepBackups !== undefined ? { keepBackups: intFlag('--keep-backups', flags.keepBackups) } : {}),
        }, io);
        if (flags.json) printJson(result);
        else process.stdout.write(`✓ ${id} added to ${result.inventory} (${result.devices} device${result.devices === 1 ? '' : 's'}), host key ${result.keyType} ${result.fingerprint} pinned\n  next: edgeship devices check ${id}${flags.inventory === defaultInventoryPath(stateDir()) ? '' : ` --inventory ${flags.inventory}`}\n`);
      } catch (err) {
        if (err instanceof EnrollmentError) throw new UserError(err.message, err.exitCode);
        throw err;
      }
    });
}
