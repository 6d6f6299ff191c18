// The device package's stand-in for @temporalio/worker's workflow bundler
// (packaging/build/workflowBundlerStub.js): the same exports as this SDK's bundler, a clear error
// for anything that would bundle, and the package pruning that follows the dependency graph.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BUNDLER_STUB, declaredExports, reachablePackages } from '../../packaging/build/nodeModules';

describe('device package: workflow bundler stub', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeship-bundler-stub-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function loadStub(): Record<string, unknown> {
    // Where the package puts it: lib/workflow/bundler.js beside lib/workflow-log-interceptor.js.
    mkdirSync(path.join(dir, 'lib', 'workflow'), { recursive: true });
    writeFileSync(path.join(dir, 'lib', 'workflow-log-interceptor.js'), '');
    const file = path.join(dir, 'lib', 'workflow', 'bundler.js');
    copyFileSync(BUNDLER_STUB, file);
    return createRequire(file)(file) as Record<string, unknown>;
  }

  it('exports what this SDK version\'s bundler exports (read from its source, as the build does)', () => {
    const sdk = require.resolve('@temporalio/worker/lib/workflow/bundler.js');
    const original = declaredExports(readFileSync(sdk, 'utf8'));
    assert.ok(original.includes('bundleWorkflowCode') && original.includes('WorkflowCodeBundler'), original.join());
    assert.deepEqual(Object.keys(loadStub()).sort(), original);
  });

  it('refuses to bundle with an error that says why', async () => {
    const stub = loadStub() as { bundleWorkflowCode: (o: unknown) => Promise<unknown>; WorkflowCodeBundler: new (o: unknown) => unknown };
    const why = /^workflow bundling is not part of the edgeship device package: the edge worker runs activities only/;
    const said = (e: Error): boolean => e.name === 'WorkflowBundlingNotInPackage' && why.test(e.message);
    await assert.rejects(stub.bundleWorkflowCode({ workflowsPath: '/x' }), said);
    assert.throws(() => new stub.WorkflowCodeBundler({}), said);
  });

  it('keeps the packages the roots need, through nested copies, minus the cut edges', () => {
    const nm = path.join(dir, 'node_modules');
    const pkg = (where: string, deps: Record<string, string> = {}): void => {
      mkdirSync(where, { recursive: true });
      writeFileSync(path.join(where, 'package.json'), JSON.stringify({ dependencies: deps }));
    };
    pkg(path.join(nm, 'app-dep'), { shared: '1', '@scope/nested': '1' });
    pkg(path.join(nm, 'app-dep', 'node_modules', '@scope', 'nested'), { deep: '1' });
    pkg(path.join(nm, 'deep'));
    pkg(path.join(nm, 'shared'));
    pkg(path.join(nm, 'sdk'), { shared: '1', bundler: '1' });
    pkg(path.join(nm, 'bundler'), { 'bundler-only': '1' });
    pkg(path.join(nm, 'bundler-only'));
    const keep = reachablePackages(nm, ['app-dep', 'sdk'], new Set(['sdk>bundler']));
    assert.deepEqual([...keep].sort(), ['app-dep', 'deep', 'sdk', 'shared']);
  });
});
