// Lint rules that protect what Temporal needs: no floating promises anywhere, and no Node
// built-ins (or other non-deterministic modules) inside workflow code, which is replayed.
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The common/ modules workflow code may import at run time (pure: no Node built-ins, no zod).
const workflowSafeCommon = JSON.parse(readFileSync(new URL('./common/workflowImports.json', import.meta.url), 'utf8')).mayImport;
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
    files: ['workflows/**/*.ts', 'bench/**/*Workflows.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node built-ins.' })),
          ...nodeBuiltins.map((name) => ({ name: `node:${name}`, message: 'Workflow code must be deterministic: no Node built-ins.' })),
        ],
        patterns: [
          { group: ['../activities/*', '../activities/**'], allowTypeImports: true, message: 'Workflows import only types from activities.' },
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
