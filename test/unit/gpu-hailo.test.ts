import * as assert from 'node:assert/strict';
import { buildHailoCompileRequest, formatCommandLines, hailoCliSteps, hailoHwArch, hailoNetName, hefFileName, isHailoTarget } from '../../activities/gpu/hailo';

describe('hailo command construction', () => {
  const req = buildHailoCompileRequest({ onnxPath: '/store/ab/tcn-vae.onnx', calibrationPath: '/store/cd/calibration-2000.npy', target: 'hailo8l', modelName: 'tcn-vae', workDir: '/work/x' });

  it('maps targets to the DFC hw arch and rejects others', () => {
    assert.equal(hailoHwArch('hailo8'), 'hailo8');
    assert.equal(hailoHwArch('hailo8l'), 'hailo8l');
    assert.ok(isHailoTarget('hailo8'));
    assert.ok(!isHailoTarget('cpu-int8'));
    assert.ok(!isHailoTarget('hailo15h'));
  });

  it('makes DFC-safe network names', () => {
    assert.equal(hailoNetName('tcn-vae'), 'tcn_vae');
    assert.equal(hailoNetName('2024-model'), 'm_2024_model');
  });

  it('builds the tool request with outputs inside the work dir', () => {
    assert.deepEqual(req, {
      onnxPath: '/store/ab/tcn-vae.onnx',
      calibrationPath: '/store/cd/calibration-2000.npy',
      calibNhwcPath: '/work/x/tcn_vae_calib_nhwc.npy',
      hwArch: 'hailo8l',
      netName: 'tcn_vae',
      workDir: '/work/x',
      outPath: '/work/x/tcn_vae.hailo8l.hef',
    });
    assert.equal(hefFileName('tcn-vae', 'hailo8l'), 'tcn-vae.hailo8l.hef');
  });

  it('gives the parser, optimize and compiler steps with the preflight node names', () => {
    const steps = hailoCliSteps(req, { startNodeNames: ['/blocks/blocks.0/conv1/Conv', '/blocks/blocks.0/downsample/Conv'], endNodeNames: ['/fc_mu/Gemm'] });
    assert.deepEqual(steps[0], ['hailo', 'parser', 'onnx', '/store/ab/tcn-vae.onnx', '--hw-arch', 'hailo8l', '--net-name', 'tcn_vae', '--har-path', '/work/x/tcn_vae.har',
      '--start-node-names', '/blocks/blocks.0/conv1/Conv', '/blocks/blocks.0/downsample/Conv', '--end-node-names', '/fc_mu/Gemm']);
    assert.deepEqual(steps[1], ['hailo', 'optimize', '/work/x/tcn_vae.har', '--hw-arch', 'hailo8l', '--calib-set-path', '/work/x/tcn_vae_calib_nhwc.npy', '--output-har-path', '/work/x/tcn_vae_optimized.har']);
    assert.deepEqual(steps[2], ['hailo', 'compiler', '/work/x/tcn_vae_optimized.har', '--hw-arch', 'hailo8l', '--output-dir', '/work/x']);
  });

  it('omits node names the preflight did not find', () => {
    const [parser] = hailoCliSteps(req, { startNodeNames: [], endNodeNames: [] });
    assert.ok(!parser.includes('--start-node-names'));
    assert.ok(!parser.includes('--end-node-names'));
  });

  it('quotes arguments for display only where needed', () => {
    assert.equal(formatCommandLines([['hailo', 'optimize', '/a b/c.har', "it's"]]), `hailo optimize '/a b/c.har' 'it'\\''s'`);
  });
});
