// The workflow bundle a GPU worker runs: built once ahead of time (`npm run build` writes
// dist/workflow-bundle.js; `--workflow-bundle <file>` on the GPU worker) or, without one, bundled
// from source when the worker starts. Bundling runs webpack in the worker's own process: ~4 s and
// ~150 MiB of RSS the process keeps (measured: 136 → 290 MiB), which a prebuilt bundle saves. The
// SDK recommends prebuilt bundles in production for the same reason.
//   node dist/workers/workflowBundle.js --out dist/workflow-bundle.js
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Runtime, bundleWorkflowCode, type Logger, type WorkflowBundleOption } from '@temporalio/worker';

/** A prebuilt bundle from a file, refused with the fix if it is missing or is not a bundle. */
export function prebuiltWorkflowBundle(file: string): WorkflowBundleOption {
  const codePath = path.resolve(file);
  if (!existsSync(codePath)) throw new Error(`workflow bundle ${codePath} does not exist: build it with \`npm run build\` (it writes dist/workflow-bundle.js), or leave --workflow-bundle out to bundle at start`);
  // webpack's output starts with its runtime; anything else (a source file, a JSON file) is not
  // one. Only its head is read: the worker's own load reads the whole file once.
  const head = Buffer.alloc(4096);
  const fd = openSync(codePath, 'r');
  const read = (() => {
    try {
      return readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  })();
  if (!head.subarray(0, read).toString('utf8').includes('__webpack_')) throw new Error(`${codePath} is not a workflow bundle made by \`npm run build\``);
  return { codePath };
}

/** The bundle of `workflowsPath`: the prebuilt file when given, else bundled now (logged like the SDK's own). */
export async function workflowBundleFor(workflowsPath: string, prebuilt?: string): Promise<WorkflowBundleOption> {
  if (prebuilt) return prebuiltWorkflowBundle(prebuilt);
  return bundleWorkflowCode({ workflowsPath, logger: Runtime.instance().logger });
}

/** Bundles `workflowsPath` into `out` (atomically: a worker never reads half a bundle). */
export async function writeWorkflowBundle(workflowsPath: string, out: string, logger?: Logger): Promise<{ file: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({ workflowsPath, ...(logger ? { logger } : {}) });
  const file = path.resolve(out);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, code);
  renameSync(`${file}.tmp`, file);
  return { file, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  const out = at > 0 ? process.argv[at + 1] : undefined;
  if (!out) {
    process.stderr.write('usage: node dist/workers/workflowBundle.js --out <file>\n');
    process.exit(2);
  }
  writeWorkflowBundle(require.resolve('../workflows'), out).then(
    ({ file, bytes }) => process.stdout.write(`workflow bundle ${file} (${(bytes / 1024 / 1024).toFixed(2)} MiB)\n`),
    (err: unknown) => {
      process.stderr.write(`workflow bundle: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
