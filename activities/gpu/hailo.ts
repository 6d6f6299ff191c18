// How edgeship drives the Hailo Dataflow Compiler: the request for ml/hailo_compile.py (which
// runs ClientRunner parse -> optimize -> compile) and the equivalent `hailo` CLI steps, which go
// into reports and errors so a person can reproduce a compile by hand on a DFC machine.
import * as path from 'node:path';
import type { CompileTarget } from '../../common/contracts';

export const HAILO_TARGETS = ['hailo8', 'hailo8l'] as const;
export type HailoTarget = (typeof HAILO_TARGETS)[number];

export function isHailoTarget(target: string): target is HailoTarget {
  return (HAILO_TARGETS as readonly string[]).includes(target);
}

/** The DFC's --hw-arch for a target. A hailo8 HEF fails on a hailo8l device, so never mix them. */
export function hailoHwArch(target: HailoTarget): string {
  return target;
}

/** DFC network names become scopes in the HAR: letters, digits and underscores only. */
export function hailoNetName(modelName: string): string {
  const name = modelName.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z]/.test(name) ? name : `m_${name}`;
}

export interface HailoCompileRequest {
  onnxPath: string;
  calibrationPath: string;
  /** Where the tool writes the set in the DFC's NHWC layout; the CLI's optimize step reads it. */
  calibNhwcPath: string;
  hwArch: string;
  netName: string;
  workDir: string;
  outPath: string;
  preflightOnly?: boolean;
}

export function buildHailoCompileRequest(args: { onnxPath: string; calibrationPath: string; target: HailoTarget; modelName: string; workDir: string }): HailoCompileRequest {
  const netName = hailoNetName(args.modelName);
  return {
    onnxPath: args.onnxPath,
    calibrationPath: args.calibrationPath,
    calibNhwcPath: path.join(args.workDir, `${netName}_calib_nhwc.npy`),
    hwArch: hailoHwArch(args.target),
    netName,
    workDir: args.workDir,
    outPath: path.join(args.workDir, `${netName}.${args.target}.hef`),
  };
}

export interface HailoPreflight {
  inputs: Record<string, Array<number | string>>;
  outputs: Record<string, Array<number | string>>;
  ops: Record<string, number>;
  warnings: string[];
  startNodeNames: string[];
  endNodeNames: string[];
}

/** The same three steps as `hailo` CLI argv lists (parser, optimize, compiler). */
export function hailoCliSteps(req: HailoCompileRequest, preflight?: Pick<HailoPreflight, 'startNodeNames' | 'endNodeNames'>): string[][] {
  const har = path.join(req.workDir, `${req.netName}.har`);
  const optimized = path.join(req.workDir, `${req.netName}_optimized.har`);
  const parser = ['hailo', 'parser', 'onnx', req.onnxPath, '--hw-arch', req.hwArch, '--net-name', req.netName, '--har-path', har];
  if (preflight?.startNodeNames.length) parser.push('--start-node-names', ...preflight.startNodeNames);
  if (preflight?.endNodeNames.length) parser.push('--end-node-names', ...preflight.endNodeNames);
  return [
    parser,
    ['hailo', 'optimize', har, '--hw-arch', req.hwArch, '--calib-set-path', req.calibNhwcPath, '--output-har-path', optimized],
    ['hailo', 'compiler', optimized, '--hw-arch', req.hwArch, '--output-dir', req.workDir],
  ];
}

/** argv lists as copy-pasteable lines; arguments with spaces or quotes are single-quoted. */
export function formatCommandLines(steps: string[][]): string {
  const quote = (a: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return steps.map((argv) => argv.map(quote).join(' ')).join('\n');
}

export function hefFileName(modelName: string, target: CompileTarget): string {
  return `${modelName}.${target}.hef`;
}
