// THE BARE-ENGINE PROGRAM of bench:fleet-scale: not edgeship. The same shape as an edgeship fleet
// rollout written with nothing but the Temporal SDK, so the bench can say how close edgeship runs
// to the engine it runs on (issue 17): a parent, a child per wave (one after another), a child
// per device running 4 no-op activities (probe, push, swap, validate on the queues edgeship uses
// for them), and an entity workflow per device leased by update-with-start and released by signal,
// both sent by activities in the batches edgeship uses (1,000 devices per lease call, 250 per
// release call, 16 messages at once). No report, no search attribute, no details, no saga, no request check:
// exactly what edgeship adds is what the ratio measures.
import { condition, executeChild, proxyActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { bareLeaseUpdate, bareReleaseSignal, type BareEngineActivities } from './bareEngineMessages';

export interface BareQueues {
  control: string;
  gpu: string;
  edge: string;
}

export interface BareFleetInput {
  /** The waves in order; the first is the canary. */
  waves: string[][];
  maxParallel: number;
  queues: BareQueues;
  /** Devices per lease activity call (edgeship: 1,000) and per release call (edgeship: 250). */
  leaseBatch: number;
  releaseBatch: number;
  /** Child starts a wave asks for at a time (bench --bare-start-window, as edgeship's waves); none: all free slots at once. */
  startWindow?: number;
}

export interface BareWaveInput {
  devices: string[];
  maxParallel: number;
  queues: BareQueues;
  startWindow?: number;
}

const bareWaveWorkflowId = (parentId: string, index: number): string => `${parentId}.wave-${index}`;
const bareDeviceWorkflowId = (parentId: string, deviceId: string): string => `${parentId}.${deviceId}`;

/** The entity: one per device, holds at most one lease, idle (no timer) between requests. */
export async function bareOwner(): Promise<void> {
  let holder: string | undefined;
  setHandler(bareLeaseUpdate, (asker) => {
    if (holder !== undefined && holder !== asker) return false;
    holder = asker;
    return true;
  });
  setHandler(bareReleaseSignal, (releaser) => {
    if (holder === releaser) holder = undefined;
  });
  await condition(() => false); // an entity lives on (edgeship's owners continue-as-new)
}

/** A device: 4 no-op activities in a row. */
export async function bareDevice(queues: BareQueues): Promise<void> {
  const edge = proxyActivities<BareEngineActivities>({ taskQueue: queues.edge, startToCloseTimeout: '1m' });
  const gpu = proxyActivities<BareEngineActivities>({ taskQueue: queues.gpu, startToCloseTimeout: '1m' });
  await edge.bareProbe();
  await gpu.barePush();
  await edge.bareSwap();
  await edge.bareValidate();
}

/** A wave: a child per device, at most maxParallel at once (with a start window: windowedWave). */
export async function bareWave(input: BareWaveInput): Promise<number> {
  if (input.startWindow !== undefined) return windowedWave(input, input.startWindow);
  const parentId = workflowInfo().workflowId;
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < input.devices.length) {
      const deviceId = input.devices[next++];
      await executeChild(bareDevice, { workflowId: bareDeviceWorkflowId(parentId, deviceId), taskQueue: input.queues.control, args: [input.queues] });
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.maxParallel, input.devices.length) }, lane));
  return done;
}

/**
 * A wave that asks for at most `window` child starts at a time, written as edgeship's rolloutWave
 * is (one loop, one condition), so that only the window differs from the plain wave.
 */
async function windowedWave(input: BareWaveInput, window: number): Promise<number> {
  const parentId = workflowInfo().workflowId;
  let running = 0;
  let starting = 0;
  let done = 0;
  const children: Array<Promise<void>> = [];
  for (const deviceId of input.devices) {
    await condition(() => running < input.maxParallel && starting < window);
    running += 1;
    starting += 1;
    const started = startChild(bareDevice, { workflowId: bareDeviceWorkflowId(parentId, deviceId), taskQueue: input.queues.control, args: [input.queues] });
    const startSettled = (): void => void (starting -= 1);
    void started.then(startSettled, startSettled);
    children.push(
      started.then((child) => child.result()).then(() => {
        running -= 1;
        done += 1;
      }),
    );
  }
  await Promise.all(children);
  return done;
}

/** The parent: lease every device, the waves one after another, release every device. */
export async function bareFleet(input: BareFleetInput): Promise<number> {
  const { workflowId } = workflowInfo();
  const control = proxyActivities<BareEngineActivities>({ taskQueue: input.queues.control, startToCloseTimeout: '10m', heartbeatTimeout: '1m' });
  const devices = input.waves.flat().sort();
  for (let at = 0; at < devices.length; at += input.leaseBatch) {
    await control.bareLeaseDevices({ deviceIds: devices.slice(at, at + input.leaseBatch), holder: workflowId });
  }
  let validated = 0;
  for (const [i, wave] of input.waves.entries()) {
    validated += await executeChild(bareWave, { workflowId: bareWaveWorkflowId(workflowId, i), taskQueue: input.queues.control, args: [{ devices: wave, maxParallel: input.maxParallel, queues: input.queues, ...(input.startWindow !== undefined ? { startWindow: input.startWindow } : {}) }] });
  }
  for (let at = 0; at < devices.length; at += input.releaseBatch) {
    await control.bareReleaseDevices({ deviceIds: devices.slice(at, at + input.releaseBatch), holder: workflowId });
  }
  return validated;
}
