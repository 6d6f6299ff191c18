// The `edgeship` command (bin/edgeship): start, approve, reject, pause, resume, status, watch, list, devices (add, check), keys.
import { Command, CommanderError } from 'commander';
import { approveCommand } from './commands/approve';
import { devicesCommand } from './commands/devices';
import { keysCommand } from './commands/keys';
import { listCommand } from './commands/list';
import { rejectCommand } from './commands/reject';
import { UserError } from './commands/shared';
import { startCommand } from './commands/start';
import { statusCommand } from './commands/status';
import { watchCommand } from './commands/watch';
import { pauseCommand, resumeCommand } from './commands/pause';

export function buildProgram(): Command {
  return new Command('edgeship')
    .description('durable model deployment to edge devices on Temporal: export → calibrate → compile → stage → approve → swap → validate')
    .showHelpAfterError()
    // Each subcommand's flags are its own: `devices add … --json` is add's --json, not the list's.
    .enablePositionalOptions()
    .addCommand(startCommand())
    .addCommand(statusCommand())
    .addCommand(watchCommand())
    .addCommand(approveCommand())
    .addCommand(rejectCommand())
    .addCommand(pauseCommand())
    .addCommand(resumeCommand())
    .addCommand(listCommand())
    .addCommand(devicesCommand())
    .addCommand(keysCommand())
    .addHelpText('after', `
Connection (every command): --address / TEMPORAL_ADDRESS (default localhost:7233),
--namespace / TEMPORAL_NAMESPACE (default "default"), --tls-cert/--tls-key/--tls-ca
(TEMPORAL_TLS_CERT/KEY/CA) for mTLS, --api-key / TEMPORAL_API_KEY for Temporal Cloud; fields
not given come from the temporal CLI's config profile (--profile / TEMPORAL_PROFILE, file
--config-file / TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml).
--ui-url / EDGESHIP_UI_URL for links; without it a local dev server's UI is assumed on the
frontend port + 1000 (localhost:7233 → http://localhost:8233), and elsewhere no link is printed.`);
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const code = err instanceof UserError ? err.exitCode : 1;
    process.stderr.write(`edgeship: ${err instanceof UserError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exitCode = code;
  }
}

if (require.main === module) void main();
