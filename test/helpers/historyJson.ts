// Workflow histories as proto3 JSON (the format of `temporal workflow show --output json` and of
// the SDK's historyToJSON), read and written with the protobufjs copy that @temporalio/proto's
// types come from. The SDK's own helpers in @temporalio/common resolve a second protobufjs
// copy in this install, whose protojson rejects those types ("type must be a Type").
import * as path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

export function historyFromJSON(json: unknown): History {
  // Unknown fields come from newer servers; they do not matter for replay.
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
