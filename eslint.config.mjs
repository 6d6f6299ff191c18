// Lint rules that protect what Temporal needs: no floating promises anywhere, and no Node
// built-ins (or other non-deterministic modules) inside workflow code, which is replayed. common/
// holds only what workflow code may import: no Node built-in and no Node-only package there (the
// Node-only helpers live in lib/).
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The common/ modules workflow code may import at run time (pure: no Node built-ins, no zod).
const workflowImports = JSON.parse(readFileSync(new URL('./common/workflowImports.json', import.meta.url), 'utf8'));
const workflowSafeCommon = workflowImports.mayImport;
// The packages common/ may use (workflow-safe); every other dependency of the project is Node-only there.
const commonPackages = workflowImports.packages;
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const nodeOnlyPackages = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) => !commonPackages.includes(name));
const commonGroup = (prefix) => [`${prefix}common/*`, ...workflowSafeCommon.map((name) => `!${prefix}common/${name}`)];

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs',
  'fs/promises', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process',
  'readline', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.venv/**', '.tools/**', '.state/**', 'test-artifacts/**', 'dist/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: 'common/ is what workflow code may import: no Node built-ins (Node-only helpers go in lib/).' })),
        ],
        patterns: [
          { group: ['node:*'], message: 'common/ is what workflow code may import: no Node built-ins (Node-only helpers go in lib/).' },
          { group: nodeOnlyPackages.flatMap((name) => [name, `${name}/**`]), message: `common/ is what workflow code may import: of the packages only ${commonPackages.join(', ')} (common/workflowImports.json); Node-only helpers go in lib/.` },
          { group: ['../*', '!../common'], message: 'common/ imports only common/: what workflow code may import must not reach into Node-only folders.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'common/ is what workflow code may import: no process (Node-only helpers go in lib/).' },
        { name: 'Buffer', message: 'common/ is what workflow code may import: no Buffer (Node-only helpers go in lib/).' },
        { name: '__dirname', message: 'common/ is what workflow code may import: no file paths (Node-only helpers go in lib/).' },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'bench/**/*Workflows.ts', 'bench/**/*Messages.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node built-ins.' })),
          ...nodeBuiltins.map((name) => ({ name: `node:${name}`, message: 'Workflow code must be deterministic: no Node built-ins.' })),
        ],
        patterns: [
          { group: ['../activities/*', '../activities/**'], allowTypeImports: true, message: 'Workflows import only types from activities.' },
          { group: ['../lib/*', '../../lib/*'], allowTypeImports: true, message: 'lib/ holds Node-only helpers: workflows import only types from it.' },
          { group: ['@temporalio/worker', '@temporalio/client', '@temporalio/activity'], message: 'Workflow code may use only @temporalio/workflow.' },
          {
            group: [...commonGroup('../'), ...commonGroup('../../')],
            allowTypeImports: true,
            message: `Workflow code imports at run time only the pure common/ modules (common/workflowImports.json: ${workflowSafeCommon.join(', ')}); from the others (Node built-ins, zod) only types.`,
          },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Workflow code must be deterministic.' },
        { name: 'process', message: 'Workflow code must be deterministic.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use workflow time (Date inside workflows is replay-safe, but be explicit).' },
        { object: 'Math', property: 'random', message: 'Workflow code must be deterministic.' },
      ],
    },
  },
);
