// edgeship devices check: can the GPU server deploy to this device now (clients/deviceCheck.ts).
import { Command, Option } from 'commander';
import { DEFAULT_POLLER_LIVE_WINDOW_MS } from '../../lib/edgePollers';
import { checkDevice, renderCheck, UnknownDeviceError } from '../deviceCheck';
import { connectClient } from '../connection';
import { inventoryOption } from './devicesAdd';
import { printJson, UserError, withCommonOptions, type CommonOptions } from './shared';

interface CheckFlags extends CommonOptions {
  inventory: string;
  pollerWindow: string;
}

/** Shared by `devices` (VERSION) and `devices check`. */
export function pollerWindowOption(): Option {
  return new Option('--poller-window <seconds>', 'an edge worker last seen polling longer ago than this counts as gone (a live worker\'s long poll renews it at least every 60 s)').default(String(DEFAULT_POLLER_LIVE_WINDOW_MS / 1000));
}

export function pollerWindowMs(seconds: string): number {
  if (!/^\d+(\.\d+)?$/.test(seconds) || Number(seconds) <= 0) throw new UserError(`--poller-window ${JSON.stringify(seconds)} is not a positive number of seconds`, 2);
  return Number(seconds) * 1000;
}

export function devicesCheckCommand(): Command {
  return withCommonOptions(new Command('check'))
    .description('check a device from the GPU server: inventory entry, SSH with the pinned key, staging/ writable, edge worker polling (and its version), /healthz')
    .argument('<device-id>', 'device id from the inventory')
    .addOption(inventoryOption())
    .addOption(pollerWindowOption())
    .addHelpText('after', `
Each check prints ✓ or ✗ with what to do. Exit code 0 only when all five pass, 1 otherwise,
2 for an unknown device id. /healthz is fetched from the device's point of view: through a
channel of the SSH connection to the healthUrl's host:port, so the deploy user's sshd must allow
local forwarding to the runtime's port (nothing else is installed on the device). The only
write is a probe file in <modelDir>/staging, removed at once.`)
    .action(async (deviceId: string, flags: CheckFlags) => {
      const windowMs = pollerWindowMs(flags.pollerWindow);
      let report;
      try {
        report = await checkDevice({
          inventory: flags.inventory,
          deviceId,
          pollerWindowMs: windowMs,
          temporal: async () => {
            const { client, close } = await connectClient(flags);
            return { client, close };
          },
        });
      } catch (err) {
        if (err instanceof UnknownDeviceError) throw new UserError(err.message, 2);
        throw err;
      }
      if (flags.json) printJson(report);
      else process.stdout.write(`${renderCheck(report)}\n`);
      if (!report.ok) process.exitCode = 1;
    });
}
