// ml/hailo_compile.py after the DFC compiled: HailoRT's load check decides whether the HEF is
// kept. The DFC and HailoRT are not installable here, so this test puts TEST DOUBLES of their
// Python modules (`hailo_sdk_client`, `hailo_platform`) on PYTHONPATH: a ClientRunner whose
// compile() returns bytes that are not a HEF, and a HEF class that refuses them as HailoRT does.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runPythonTool } from '../../activities/gpu/python';
import { buildTestModels } from '../helpers/edgeModels';
import { python, rejectsWithType, tempDir } from '../helpers/gpuFixtures';

const TEST_DOUBLE_DFC = `
class ClientRunner:
    def __init__(self, hw_arch):
        self.hw_arch = hw_arch
    def translate_onnx_model(self, *args, **kwargs):
        pass
    def save_har(self, path):
        open(path, "wb").close()
    def optimize(self, calib):
        pass
    def compile(self):
        return b"test double: these bytes are not a HEF"
__version__ = "test-double"
`;

const TEST_DOUBLE_HAILORT = `
class HEF:
    def __init__(self, path):
        raise RuntimeError("HAILO_INVALID_HEF(26)")
`;

describe('hailo_compile.py: a HEF that HailoRT refuses', function () {
  this.timeout(120_000);

  it('is a non-retryable HailoCompileFailed, and the refused file is not left behind', async () => {
    const dir = tempDir('hailo-tool');
    const stubs = path.join(dir, 'test-doubles');
    for (const [pkg, code] of [['hailo_sdk_client', TEST_DOUBLE_DFC], ['hailo_platform', TEST_DOUBLE_HAILORT]]) {
      mkdirSync(path.join(stubs, pkg), { recursive: true });
      writeFileSync(path.join(stubs, pkg, '__init__.py'), code);
    }
    const { good } = await buildTestModels('tiny', ['good']);
    assert.ok(good);
    const calibrationPath = path.join(dir, 'calib.npy');
    python('import numpy as np, sys; np.save(sys.argv[1], np.zeros((16, 100, 9), dtype=np.float32))', [calibrationPath]);
    const outPath = path.join(dir, 'model.hef');

    await rejectsWithType(
      runPythonTool('hailo_compile.py', { onnxPath: good.path, calibrationPath, hwArch: 'hailo8', netName: 'tcn_vae', workDir: path.join(dir, 'work'), outPath }, { env: { PYTHONPATH: stubs } }),
      'HailoCompileFailed',
      { nonRetryable: true, message: /HailoRT cannot load the compiled HEF.*HAILO_INVALID_HEF/ },
    );
    assert.equal(existsSync(outPath), false, 'a HEF HailoRT refuses must not stay where the store would pick it up');
  });
});
