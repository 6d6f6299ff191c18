// A user's own export command: argv run without a shell, EDGESHIP_EXPORT_DIR telling it where to
// write model.onnx and reference.json. Its output then goes through the same checks as ours.
import { spawn } from 'node:child_process';
import { ErrorType } from '../../common/errors';
import { failure } from './failures';
import { waitForGroup } from '../../lib/processGroup';

const TAIL_LINES = 20;

export async function runExportCommand(argv: string[], cwd: string | undefined, outDir: string, onLine: (line: string) => void, signal?: AbortSignal, graceMs?: number): Promise<void> {
  if (argv.length === 0 || !argv[0]) throw failure(ErrorType.InvalidRequest, 'export command argv is empty');
  const tail: string[] = [];
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(line);
    }
  };
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EDGESHIP_EXPORT_DIR: outDir },
    // Its own process group: a cancellation stops the command and everything it started.
    detached: true,
  });
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const { code, signal: sig, error } = await waitForGroup(child, { signal, graceMs });
  signal?.throwIfAborted();
  if (error) throw failure(ErrorType.ExportCommandFailed, `export command ${JSON.stringify(argv[0])} could not start: ${error.message}`);
  if (code !== 0) {
    const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
    throw failure(ErrorType.ExportCommandFailed, `export command ${JSON.stringify(argv)} ${how}${tail.length ? `; last output:\n${tail.slice(-8).join('\n')}` : ''}`);
  }
}
