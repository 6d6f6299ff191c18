// `npm run dev-stack`: the Temporal dev server with its Web UI in the foreground, workflows kept
// in .state/temporal/dev.sqlite across restarts, edgeship's search attributes registered.
// Ctrl-C stops it. If a Temporal server already answers on the port, says so and leaves it be.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { stateDir } from '../lib/paths';
import { startDevServer } from '../lib/devServer';
import { ensureTemporalCli } from '../lib/toolchain';

async function main(): Promise<void> {
  const program = new Command('dev-stack')
    .description('run the Temporal dev server (SQLite-backed) and Web UI for edgeship')
    .addOption(new Option('--db <file>', 'SQLite file').default(path.join(stateDir(), 'temporal', 'dev.sqlite')))
    .addOption(new Option('--port <n>', 'frontend port').default('7233'))
    .addOption(new Option('--ui-port <n>', 'Web UI port').default('8233'))
    .addOption(new Option('--ip <addr>', 'bind address (0.0.0.0 to reach it from other machines, e.g. real devices)').default('127.0.0.1'))
    .addOption(new Option('--namespace <ns>', 'namespace to create').default('default'))
    .option('--headless', 'no Web UI')
    .parse();
  const o = program.opts<{ db: string; port: string; uiPort: string; ip: string; namespace: string; headless?: boolean }>();

  await ensureTemporalCli((line) => process.stdout.write(`${line}\n`));
  const server = await startDevServer({ dbFile: o.db, port: Number(o.port), uiPort: Number(o.uiPort), ip: o.ip, namespace: o.namespace, headless: o.headless });
  if (server.reused) {
    process.stdout.write(`A Temporal server already answers at ${server.address}: using it (not started here, so not stopped here).\n`);
    if (server.uiUrl) process.stdout.write(`Web UI: ${server.uiUrl}\n`);
    process.stdout.write(`edgeship search attributes are registered in namespace ${server.namespace}.\n`);
    return;
  }
  process.stdout.write(
    [
      `Temporal dev server  ${server.address}  (namespace ${server.namespace})`,
      server.uiUrl ? `Web UI               ${server.uiUrl}` : 'Web UI               off (--headless)',
      `database             ${path.resolve(o.db)}`,
      `server log           ${server.logFile}`,
      'Ctrl-C stops it.',
    ].join('\n') + '\n',
  );
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the dev server…\n`);
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`dev-stack: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  void server.exited?.then((code) => {
    if (stopping) return;
    process.stderr.write(`dev-stack: the dev server exited on its own (code ${code}); see ${server.logFile}\n`);
    process.exit(1);
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-stack: ${(err as Error).message}\n`);
  process.exit(1);
});
