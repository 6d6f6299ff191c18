// Entry point of the inference runtime on a device:
//   npx tsx edge/cli.ts --model-dir <abs dir> --port <p> [--host 127.0.0.1] [--device <id>]
//     [--max-batch 64] [--max-body-bytes 1048576] [--intra-op-threads 1] [--inference-workers 1]
//     [--trusted-key <public key PEM> …] [--require-signatures]
// --trusted-key (repeatable) names release public keys: a model whose signed manifest does not
// verify under one of them is not served (503 with the reason); --require-signatures also refuses
// models that have no manifest at all.
// Prints `edgeship-runtime listening on http://HOST:PORT` once listening; SIGTERM/SIGINT stop it
// gracefully (in-flight requests finish), a second signal exits at once.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startRuntime, type RuntimeOptions } from './server';
import { loadDeviceTrust, type DeviceTrustConfig } from './trust';
import { isoTimestamp } from './utcTime';

export class UsageError extends Error {}

function intFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export type ParsedRuntimeArgs = Omit<RuntimeOptions, 'trust'> & { trustConfig?: DeviceTrustConfig };

export function parseRuntimeArgs(argv: string[]): ParsedRuntimeArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'model-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      device: { type: 'string' },
      'max-batch': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'intra-op-threads': { type: 'string' },
      'inference-workers': { type: 'string' },
      'trusted-key': { type: 'string', multiple: true },
      'require-signatures': { type: 'boolean' },
    },
  });
  const modelDir = values['model-dir'];
  if (!modelDir || !path.isAbsolute(modelDir)) throw new UsageError('--model-dir <absolute directory> is required');
  const port = intFlag('port', values.port, 0, 65535);
  if (port === undefined) throw new UsageError('--port <0-65535> is required');
  const keys = values['trusted-key'] ?? [];
  for (const k of keys) if (!path.isAbsolute(k)) throw new UsageError(`--trusted-key must be an absolute path, got ${JSON.stringify(k)}`);
  const requireSignatures = values['require-signatures'] === true;
  if (requireSignatures && keys.length === 0) throw new UsageError('--require-signatures needs at least one --trusted-key');
  return {
    ...(keys.length > 0 ? { trustConfig: { publicKeyFiles: keys, requireSignatures } } : {}),
    modelDir,
    port,
    host: values.host ?? '127.0.0.1',
    deviceId: values.device,
    maxBatch: intFlag('max-batch', values['max-batch'], 1, 1024),
    maxBodyBytes: intFlag('max-body-bytes', values['max-body-bytes'], 1024, 64 * 1024 * 1024),
    intraOpNumThreads: intFlag('intra-op-threads', values['intra-op-threads'], 1, 64),
    inferenceWorkers: intFlag('inference-workers', values['inference-workers'], 0, 16),
  };
}

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: isoTimestamp(), event, ...fields }) + '\n');
}

async function main(): Promise<void> {
  let opts: RuntimeOptions;
  try {
    const { trustConfig, ...parsed } = parseRuntimeArgs(process.argv.slice(2));
    opts = { ...parsed, ...(trustConfig ? { trust: loadDeviceTrust(trustConfig) } : {}) };
  } catch (err) {
    process.stderr.write(`edgeship-runtime: ${(err as Error).message}\nusage: edge/cli.ts --model-dir <abs dir> --port <p> [--host 127.0.0.1] [--device <id>] [--max-batch 64] [--max-body-bytes 1048576] [--intra-op-threads 1] [--inference-workers 1 (0: on the event loop)] [--trusted-key <abs PEM file> …] [--require-signatures]\n`);
    process.exit(2);
  }
  await serveUntilSignalled(opts);
}

/** Starts the runtime and keeps it serving until SIGTERM/SIGINT (also `edgeship-device runtime`). */
export async function serveUntilSignalled(opts: RuntimeOptions): Promise<void> {
  const runtime = await startRuntime({ onEvent: log, ...opts });
  process.stdout.write(`edgeship-runtime listening on ${runtime.url}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log('forced exit', { signal });
      process.exit(1);
    }
    stopping = true;
    log('stopping', { signal });
    runtime.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log('close failed', { error: (err as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await runtime.ready;
  const { body } = runtime.health();
  log(body.ok ? 'model ready' : 'model not served', body);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`edgeship-runtime: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
