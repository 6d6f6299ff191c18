// Worker identities for the test edge workers of workflow tests: what a real edge worker of this
// package says (workers/edgeWorker.ts), so the GPU side's edge-version gate lets them through, or
// an older API to drive the refusal.
import { hostname } from 'node:os';
import { EDGE_API_VERSION, formatEdgeWorkerIdentity } from '../../common/edgeVersion';

export function testEdgeIdentity(deviceId: string, api = EDGE_API_VERSION, version = '0.1.0-test'): string {
  return formatEdgeWorkerIdentity({ version, api, deviceId, host: hostname().replace(/[:\s]/g, '-'), pid: process.pid });
}
