import assert from 'node:assert/strict';
import { parseRuntimeArgs, UsageError } from '../../edge/cli';

describe('edge runtime CLI flags', () => {
  it('parses the contract flags with defaults', () => {
    const o = parseRuntimeArgs(['--model-dir', '/srv/models', '--port', '9000']);
    assert.equal(o.modelDir, '/srv/models');
    assert.equal(o.port, 9000);
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.deviceId, undefined);
    const p = parseRuntimeArgs(['--model-dir', '/m', '--port', '0', '--host', '0.0.0.0', '--device', 'edge-1', '--max-batch', '8']);
    assert.deepEqual([p.host, p.deviceId, p.maxBatch, p.port], ['0.0.0.0', 'edge-1', 8, 0]);
    assert.equal(o.inferenceWorkers, undefined); // the runtime's default (1 worker thread)
    assert.equal(parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--inference-workers', '0']).inferenceWorkers, 0);
    assert.equal(parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--inference-workers', '2']).inferenceWorkers, 2);
  });

  it('rejects missing, relative or malformed values', () => {
    assert.throws(() => parseRuntimeArgs(['--port', '9000']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', 'rel/dir', '--port', '9000']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '9x']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '70000']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--bogus', 'x']));
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--inference-workers', '17']), UsageError);
  });
});
