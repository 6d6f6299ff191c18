'use strict';
// edgeship device package: this file replaces @temporalio/worker/lib/workflow/bundler.js
// (packaging/build/nodeModules.ts, step "workflow bundler"). The edge worker registers activities
// only and never bundles workflow code, so the package does not ship webpack, memfs or unionfs,
// which the SDK's bundler requires when @temporalio/worker is loaded (about 10 MiB of RSS and
// 110 modules in every edge worker: docs/install-device.md, Memory). Same exports as the original
// (the build checks it); whatever would bundle workflow code fails with the error below instead.
Object.defineProperty(exports, '__esModule', { value: true });
const { builtinModules } = require('node:module');

const NOT_IN_PACKAGE =
  'workflow bundling is not part of the edgeship device package: the edge worker runs activities only ' +
  '(webpack, memfs and unionfs are not installed). Run workflows on the GPU server (npm run worker:gpu).';

class WorkflowBundlingNotInPackage extends Error {
  constructor() {
    super(NOT_IN_PACKAGE);
    this.name = 'WorkflowBundlingNotInPackage';
  }
}

exports.defaultWorkflowInterceptorModules = [require.resolve('../workflow-log-interceptor')];
exports.allowedBuiltinModules = ['assert', 'url', 'util'];
exports.disallowedBuiltinModules = builtinModules.filter((m) => !exports.allowedBuiltinModules.includes(m));
exports.disallowedModules = [
  ...exports.disallowedBuiltinModules,
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/common/lib/internal-non-workflow',
  '@temporalio/interceptors-opentelemetry/lib/client',
  '@temporalio/interceptors-opentelemetry/lib/worker',
  '@temporalio/interceptors-opentelemetry-v2/lib/client',
  '@temporalio/interceptors-opentelemetry-v2/lib/worker',
  '@temporalio/testing',
  '@temporalio/core-bridge',
];

function moduleMatches(userModule, modules) {
  return modules.some((m) => userModule === m || userModule.startsWith(`${m}/`));
}
exports.moduleMatches = moduleMatches;

class WorkflowCodeBundler {
  constructor() {
    throw new WorkflowBundlingNotInPackage();
  }
}
exports.WorkflowCodeBundler = WorkflowCodeBundler;

async function bundleWorkflowCode() {
  throw new WorkflowBundlingNotInPackage();
}
exports.bundleWorkflowCode = bundleWorkflowCode;
