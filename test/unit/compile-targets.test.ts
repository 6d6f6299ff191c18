// Compile targets behind one interface: the registry has a compiler for every target the
// contracts name, and a name it does not know is UnknownTarget before any file is read.
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { compileModel } from '../../activities/gpu/compileModel';
import { compilerFor, TARGET_COMPILERS } from '../../activities/gpu/targets/registry';
import { COMPILE_TARGETS } from '../../common/contracts';
import { ErrorType } from '../../common/errors';

const ref = { path: '/nonexistent/model.onnx', sha256: 'a'.repeat(64), sizeBytes: 1 };

describe('compile targets (activities/gpu/targets)', () => {
  it('every target of the contracts has exactly one compiler, and nothing else does', () => {
    assert.deepEqual(Object.keys(TARGET_COMPILERS).sort(), [...COMPILE_TARGETS].sort());
    for (const target of COMPILE_TARGETS) {
      const found = compilerFor(target);
      assert.equal(found?.target, target);
      assert.equal(typeof found?.compiler.compile, 'function');
    }
  });

  it('hailo8 and hailo8l are separate compilers (their HEFs never mix)', () => {
    assert.notEqual(TARGET_COMPILERS.hailo8, TARGET_COMPILERS.hailo8l);
  });

  it('names that are not targets find no compiler, inherited object keys included', () => {
    for (const name of ['tpu', '', '__proto__', 'constructor', 'toString', 'CPU-INT8']) assert.equal(compilerFor(name), undefined, name);
  });

  it('compileModel refuses an unknown target with UnknownTarget, non-retryable, before reading any file', async () => {
    await assert.rejects(
      compileModel({ modelName: 'm', target: 'tpu' as never, onnx: ref, metadataPath: '/nonexistent/meta.json', calibrationSet: ref }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.UnknownTarget && err.nonRetryable && /known: cpu-fp32, cpu-int8, hailo8, hailo8l/.test(err.message),
    );
  });
});
