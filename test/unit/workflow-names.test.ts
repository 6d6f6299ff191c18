// Names defined once (common/workflowNames.ts, and the deployment id in common/request.ts): each
// id parses back to what built it, the type names are the workflows the worker registers, and the
// message names the workflows handle are the table's.
import assert from 'node:assert/strict';
import { COMPILE_TARGETS } from '../../common/contracts';
import { deploymentWorkflowId, parseDeploymentWorkflowId } from '../../common/request';
import {
  DEVICE_ROLLOUT_MODES, MESSAGE_NAMES, WORKFLOW_TYPES, deviceOwnerWorkflowId, deviceRolloutWorkflowId, parseDeviceOwnerWorkflowId, parseDeviceRolloutWorkflowId,
  parseWaveWorkflowId, waveWorkflowId,
} from '../../common/workflowNames';
import * as workflows from '../../workflows';
import { approveSignal, decideUpdate, pauseSignal, rejectSignal, resumeSignal, statusQuery } from '../../workflows/messages';
import { desiredModelSignal, deviceQuery, leaseGrantedSignal, releaseLeaseSignal, requestLeaseUpdate } from '../../workflows/deviceMessages';
import { waveStatusQuery, wavePausedSignal } from '../../workflows/fleet/rolloutWave';
import { deviceRolloutStatusQuery } from '../../workflows/fleet/deviceRollout';
import { childMode, deploymentIdFromChild } from '../../clients/fleetFormat';

const SHA = '0123456789abcdef'.repeat(4);
const MODELS = ['tcn-vae', 'a', 'cpu-int8', 'm-hailo8', 'x-cpu-fp32-y', '9lives'];
const DEVICES = ['pi-01', 'revert', 'catch-up', 'deploy', 'a'];

describe('workflow names and ids (defined once)', () => {
  it('a deployment id parses back to its model, target and sha prefix, for every target', () => {
    for (const modelName of MODELS) {
      for (const target of COMPILE_TARGETS) {
        const id = deploymentWorkflowId(modelName, target, SHA);
        assert.deepEqual(parseDeploymentWorkflowId(id), { modelName, target, sourceSha256Prefix: SHA.slice(0, 12) }, id);
      }
    }
    for (const id of ['deploy-tcn-vae-gpu-0123456789ab', 'deploy-tcn-vae-cpu-int8-0123456789a', 'device-pi-01', 'raw-start-defaults', 'deploy--cpu-int8-0123456789ab']) {
      assert.equal(parseDeploymentWorkflowId(id), undefined, id);
    }
  });

  it('a device owner id parses back to its device; other ids do not', () => {
    for (const deviceId of DEVICES) assert.equal(parseDeviceOwnerWorkflowId(deviceOwnerWorkflowId(deviceId)), deviceId);
    for (const id of ['pi-01', 'device-', 'device-PI', 'deploy-tcn-vae-cpu-int8-0123456789ab']) assert.equal(parseDeviceOwnerWorkflowId(id), undefined, id);
  });

  it('wave and device rollout ids parse back to their parts, for every mode and awkward device names', () => {
    const deploymentId = deploymentWorkflowId('tcn-vae', 'cpu-int8', SHA);
    for (const wave of ['canary', 'wave-1', 'wave-12', 'revert', 'catch-up']) assert.deepEqual(parseWaveWorkflowId(waveWorkflowId(deploymentId, wave)), { deploymentId, wave });
    for (const deviceId of DEVICES) {
      for (const mode of DEVICE_ROLLOUT_MODES) {
        const id = deviceRolloutWorkflowId(deploymentId, deviceId, mode);
        assert.deepEqual(parseDeviceRolloutWorkflowId(id), { deploymentId, deviceId, mode }, id);
        // The client's list --device reads children through the same parser.
        assert.equal(childMode(id, deviceId), mode);
        assert.equal(deploymentIdFromChild(id, deviceId), deploymentId);
      }
    }
    assert.equal(parseWaveWorkflowId(deploymentId), undefined);
    assert.equal(parseDeviceRolloutWorkflowId(deploymentId), undefined);
  });

  it('the workflow type names are the functions the worker registers', () => {
    assert.deepEqual(Object.keys(workflows).sort(), Object.values(WORKFLOW_TYPES).sort());
    for (const [key, name] of Object.entries(WORKFLOW_TYPES)) assert.equal(key, name);
  });

  it('every message a workflow handles takes its name from the table, and no name is used twice', () => {
    const defined = {
      deployModel: { approveSignal, rejectSignal, decideUpdate, statusQuery, leaseGrantedSignal, pauseSignal, resumeSignal },
      deviceOwner: { requestLeaseUpdate, releaseLeaseSignal, deviceQuery, desiredModelSignal },
      rolloutWave: { waveStatusQuery, wavePausedSignal },
      deviceRollout: { deviceRolloutStatusQuery },
    };
    const names = (o: Record<string, Record<string, { name: string } | string>>) =>
      Object.fromEntries(Object.entries(o).map(([w, m]) => [w, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'string' ? v : v.name]))]));
    assert.deepEqual(names(defined), names(MESSAGE_NAMES));
    for (const messages of Object.values(MESSAGE_NAMES)) {
      const list = Object.values(messages);
      assert.equal(new Set(list).size, list.length);
    }
  });
});
