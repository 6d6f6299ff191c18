// Where edgeship keeps its local state. Not for workflow code (uses Node built-ins).
import * as path from 'node:path';

// Compiled by `npm run build`, this file runs from dist/common/: the project (ml/, .venv, .state)
// is still the checkout above dist/, so the GPU worker and the client behave the same either way.
const SOURCE_ROOT = path.resolve(__dirname, '..');
export const PROJECT_ROOT = path.basename(SOURCE_ROOT) === 'dist' ? path.dirname(SOURCE_ROOT) : SOURCE_ROOT;

/** Project-local state: Temporal's SQLite file, the artifact store, simulated devices, reports. */
export function stateDir(): string {
  return process.env.EDGESHIP_STATE_DIR ?? path.join(PROJECT_ROOT, '.state');
}

/** The GPU server's content-addressed artifact store. */
export function artifactStoreDir(): string {
  return process.env.EDGESHIP_ARTIFACT_STORE ?? path.join(stateDir(), 'artifacts');
}

/** The Python interpreter of the project-local venv made by `npm run setup`. */
export function pythonExecutable(): string {
  return process.env.EDGESHIP_PYTHON ?? path.join(PROJECT_ROOT, '.venv', 'bin', 'python');
}

export const ML_DIR = path.join(PROJECT_ROOT, 'ml');
