// What an edge worker says about itself, and what the GPU side needs of it. The edge worker puts
// its package version and the edge activity API it implements into its Temporal worker identity,
// so the GPU side can read both from a task queue's pollers (DescribeTaskQueue) without calling
// the device; the runtime reports the same package version in /healthz.
//
// EDGE_API_VERSION counts breaking changes of the edge activities' contract (common/contracts.ts
// EdgeActivities: names, inputs, results, error types). Bump it with such a change, and raise
// MIN_EDGE_API_VERSION when this GPU side no longer speaks to older devices.
// Plain data, no I/O: workflow code may import it.

/** 1: before the identity carried it (any worker whose identity does not parse). 2: swap/validate/restore/discard/probe/measure/watch as of edgeship 0.1. */
export const EDGE_API_VERSION = 2;
/** The oldest edge API this GPU side's activities can drive. */
export const MIN_EDGE_API_VERSION = 2;

export interface EdgeWorkerIdentity {
  /** The device package's version (package.json "version"), e.g. 0.1.0. */
  version: string;
  /** The edge activity API the worker implements. */
  api: number;
  deviceId: string;
  host: string;
  pid: number;
}

const IDENTITY = /^edgeship-edge\/([0-9A-Za-z.+~-]+) api=(\d+) ([a-z0-9-]+)@([^:\s]+):(\d+)$/;

/** `edgeship-edge/<version> api=<n> <deviceId>@<host>:<pid>` */
export function formatEdgeWorkerIdentity(id: EdgeWorkerIdentity): string {
  return `edgeship-edge/${id.version} api=${id.api} ${id.deviceId}@${id.host}:${id.pid}`;
}

/** The identity's parts, or null for a worker that does not speak this format (an older edge worker). */
export function parseEdgeWorkerIdentity(identity: string): EdgeWorkerIdentity | null {
  const m = IDENTITY.exec(identity.trim());
  if (!m) return null;
  return { version: m[1], api: Number(m[2]), deviceId: m[3], host: m[4], pid: Number(m[5]) };
}

/** Why a worker with this identity cannot run this GPU side's edge activities, or null when it can. */
export function edgeApiProblem(identity: string): string | null {
  const parsed = parseEdgeWorkerIdentity(identity);
  if (!parsed) return `its edge worker (identity ${JSON.stringify(identity)}) predates versioned identities (edge API 1); this GPU side needs edge API ≥ ${MIN_EDGE_API_VERSION}: upgrade the device package`;
  if (parsed.api < MIN_EDGE_API_VERSION) return `its edge worker ${parsed.version} implements edge API ${parsed.api}; this GPU side needs ≥ ${MIN_EDGE_API_VERSION}: upgrade the device package`;
  return null;
}
