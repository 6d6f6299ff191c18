// edgeship devices: the fleet view from the device owner workflows' records (no SSH, no worker).
import { Command } from 'commander';
import { listDeviceRecords, renderDevices } from '../deviceRecords';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

export function devicesCommand(): Command {
  return withCommonOptions(new Command('devices'))
    .description('what each device serves, which deployment put it there, who holds it and who waits (from Temporal, no SSH)')
    .argument('[device-id...]', 'only these devices')
    .addHelpText('after', `
Each device has one owner workflow (device-<id>) that grants it to one deployment at a time and
keeps its record. "unverified" means the last deployment could not prove what the device serves
(a restore failed, or the deployment vanished): check its /healthz.`)
    .action(async (ids: string[], opts: CommonOptions) => {
      const views = await withClient(opts, (client) => listDeviceRecords(client, ids.length ? ids : undefined));
      if (opts.json) printJson({ devices: views });
      else process.stdout.write(`${renderDevices(views)}\n`);
    });
}
