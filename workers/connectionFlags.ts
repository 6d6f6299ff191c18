// Flags and environment shared by the worker entry points.
import { Command, Option } from 'commander';
import { defaultInventoryPath } from '../common/inventory';
import { stateDir } from '../common/paths';

export interface ConnectionFlags {
  address: string;
  namespace: string;
  inventory: string;
}

export function addConnectionFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--inventory <file>', 'device inventory (JSON)').env('EDGESHIP_INVENTORY').default(defaultInventoryPath(stateDir())))
    .addOption(new Option('--address <host:port>', 'Temporal frontend').env('TEMPORAL_ADDRESS').default('localhost:7233'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace').env('TEMPORAL_NAMESPACE').default('default'));
}
