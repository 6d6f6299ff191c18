// The demo checkpoint, made on demand by ml/make_demo_checkpoint.py (binary models are never
// committed). The script writes through a temp file, so an existing file is always complete.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorType } from '../../common/errors';
import { ML_DIR, pythonExecutable } from '../../lib/paths';
import { sha256File } from './artifactStore';
import { failure } from './failures';
import { pythonMissing } from './python';

export interface DemoCheckpointOptions {
  /** The "bad candidate": fc_mu zeroed, every input gives the same embedding. */
  degenerate?: boolean;
  /** Training seed (the script's default, 7, makes the demo checkpoint). */
  seed?: number;
  onProgress?: (line: string) => void;
}

export async function ensureDemoCheckpoint(outPath: string, opts: DemoCheckpointOptions = {}): Promise<{ path: string; sha256: string }> {
  const out = path.resolve(outPath);
  if (!existsSync(out)) {
    const python = pythonExecutable();
    if (!existsSync(python)) throw pythonMissing(python);
    const argv = [path.join(ML_DIR, 'make_demo_checkpoint.py'), '--out', out, ...(opts.degenerate ? ['--degenerate'] : []), ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : [])];
    const child = spawn(python, argv, { cwd: ML_DIR, stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const tail: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter((l) => l.trim())) {
        tail.push(line);
        if (tail.length > 10) tail.shift();
        opts.onProgress?.(line);
      }
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0 || !existsSync(out)) {
      throw failure(ErrorType.PythonToolFailed, `make_demo_checkpoint.py exited with ${code}:\n${tail.join('\n')}`);
    }
  }
  return { path: out, sha256: await sha256File(out) };
}
