// edgeship devices: the fleet view from the device owner workflows' records and the edge queues'
// pollers (no SSH); `devices add` enrolls a device, `devices check` checks one from here.
import { Command } from 'commander';
import { addEdgeVersions, listDeviceRecords, renderDevices } from '../deviceRecords';
import { devicesAddCommand } from './devicesAdd';
import { devicesCheckCommand, pollerWindowMs, pollerWindowOption } from './devicesCheck';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

export function devicesCommand(): Command {
  return withCommonOptions(new Command('devices'))
    .description('what each device serves, its edge worker\'s version, which deployment put it there, who holds it and who waits (from Temporal, no SSH); add, check')
    .argument('[device-id...]', 'only these devices')
    // `devices add --json`: the subcommand's own flags, not the list's (the program enables it too).
    .enablePositionalOptions()
    .addCommand(devicesAddCommand())
    .addCommand(devicesCheckCommand())
    .addHelpText('after', `
Each device has one owner workflow (device-<id>) that grants it to one deployment at a time and
keeps its record. "unverified" means the last deployment could not prove what the device serves
(a restore failed, or the deployment vanished): check its /healthz. VERSION is the device
package version its edge worker reports (from the pollers of edge.<id>): "-" when no worker polls
now, "old" when the worker predates versioned identities (deployments refuse such a device).

  edgeship devices add <id> --host <h> --user <u> --target <t>   enroll a device, pinning its host key
  edgeship devices check <id>                                    SSH, staging/, edge worker, /healthz: ✓/✗
(a device id "add" or "check" cannot be listed by name.)`)
    .addOption(pollerWindowOption())
    .action(async (ids: string[], opts: CommonOptions & { pollerWindow: string }) => {
      const liveWindowMs = pollerWindowMs(opts.pollerWindow);
      const views = await withClient(opts, async (client) => addEdgeVersions(client, await listDeviceRecords(client, ids.length ? ids : undefined), { liveWindowMs }));
      if (opts.json) printJson({ devices: views });
      else process.stdout.write(`${renderDevices(views)}\n`);
    });
}
