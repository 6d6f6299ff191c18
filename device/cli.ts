// The `edgeship-device` command of the device package (/usr/bin/edgeship-device):
//   edgeship-device runtime   the inference runtime (edgeship-runtime.service)
//   edgeship-device worker    the edge worker of this device (edgeship-edge-worker.service)
//   edgeship-device check     line-by-line readiness, each failure with its fix
//   edgeship-device --version
// Every subcommand reads /etc/edgeship/device.json (--config, or EDGESHIP_DEVICE_CONFIG). A config
// problem exits 2 with one line per problem; the units do not restart on exit 2
// (RestartPreventExitStatus=2): restarting cannot fix a file.
import { Command, Option } from 'commander';
import { EDGE_API_VERSION } from '../common/edgeVersion';
import { version as packageVersion } from '../package.json';
import { addMetricsFlags, metricsBindAddress, type MetricsFlags } from '../workers/metrics';
import { deviceConfigPath, loadDeviceConfig, DeviceConfigError, type DeviceConfig } from './config';
// runtime, worker and check are imported when their subcommand runs: the runtime process never
// loads the Temporal SDK (about 40 MiB of RSS), the worker never loads onnxruntime.

export const VERSION_LINE = `edgeship-device ${packageVersion} (edge API ${EDGE_API_VERSION}, node ${process.versions.node}, ${process.platform}/${process.arch})`;

function fail(lines: string[]): never {
  for (const l of lines) process.stderr.write(`edgeship-device: ${l}\n`);
  process.exit(2);
}

function orExit<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (!(err instanceof DeviceConfigError)) throw err;
    fail(err.problems.map((p) => `${err.file}: ${p}`));
  }
}

const loadOrExit = (file: string): DeviceConfig => orExit(() => loadDeviceConfig(file));

const configOption = (): Option => new Option('--config <file>', 'device config').env('EDGESHIP_DEVICE_CONFIG').default(deviceConfigPath({}));

export function buildProgram(): Command {
  const program = new Command('edgeship-device')
    .description('edgeship on a device: the inference runtime, the edge worker and a readiness check, configured by /etc/edgeship/device.json')
    .version(VERSION_LINE, '-V, --version')
    .showHelpAfterError();

  program.command('runtime')
    .description('serve the model behind <modelDir>/current over HTTP (EdgeInfer contract: POST /infer, GET /healthz, GET /metrics); with restart.method "self-reload" it reloads when current changes')
    .addOption(configOption())
    .action(async (o: { config: string }) => {
      const c = loadOrExit(o.config);
      const { runRuntime } = await import('./runtime');
      await runRuntime(c);
    });

  addMetricsFlags(program.command('worker'))
    .description('run the edge worker of this device: polls edge.<id> on Temporal with swap, validate, restore, discard, probe, measure and watch')
    .addOption(configOption())
    .action(async (o: { config: string } & MetricsFlags) => {
      const c = loadOrExit(o.config);
      const { prepareWorker, runWorker } = await import('./worker');
      const resolved = orExit(() => prepareWorker(c, o.config));
      await runWorker(c, resolved, metricsBindAddress(o));
      process.exit(0);
    });

  program.command('check')
    .description('say, line by line with the fix, whether the config is valid, the model directory writable by the service user, Temporal reachable with these credentials, the worker polling and the runtime answering')
    .addOption(configOption())
    .addOption(new Option('--timeout-ms <ms>', 'bound on each Temporal call').default('10000'))
    .action(async (o: { config: string; timeoutMs: string }) => {
      const timeoutMs = Number(o.timeoutMs);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100) fail([`--timeout-ms must be an integer ≥ 100, got ${JSON.stringify(o.timeoutMs)}`]);
      const { runCheck } = await import('./check');
      process.exit(await runCheck({ configFile: o.config, timeoutMs }));
    });
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync().catch((err: unknown) => {
    process.stderr.write(`edgeship-device: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
