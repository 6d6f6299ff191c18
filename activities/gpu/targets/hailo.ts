// hailo8 / hailo8l: the Hailo Dataflow Compiler (parse -> optimize with the calibration set ->
// compile) through ml/hailo_compile.py. An absent DFC is the non-retryable
// HailoCompilerUnavailable with the equivalent CLI steps, never a mock file.
import { ApplicationFailure } from '@temporalio/common';
import type { CompileResult } from '../../../common/contracts';
import { ErrorType } from '../../../common/errors';
import { cancellationSignal } from '../activityContext';
import { failure } from '../failures';
import { buildHailoCompileRequest, formatCommandLines, hailoCliSteps, hefFileName, type HailoPreflight, type HailoTarget } from '../hailo';
import { runPythonTool } from '../python';
import { fp32Binding } from './binding';
import { storedBuild } from './storedBuild';
import type { BuiltArtifact, CompileContext, TargetCompiler } from './targetCompiler';

interface HailoToolAnswer {
  preflight: HailoPreflight;
  hefPath: string;
  hefBytes: number;
  steps: Record<string, number>;
  dfcVersion: string;
}

async function compileHef(ctx: CompileContext, target: HailoTarget, work: string, progress: (line: string) => void): Promise<BuiltArtifact> {
  const { input, meta } = ctx;
  const req = buildHailoCompileRequest({ onnxPath: input.onnx.path, calibrationPath: input.calibrationSet.path, target, modelName: input.modelName, workDir: work });
  let answer: HailoToolAnswer;
  try {
    answer = await runPythonTool<HailoToolAnswer>('hailo_compile.py', req, { onProgress: progress, signal: cancellationSignal() });
  } catch (err) {
    if (err instanceof ApplicationFailure && (err.type === ErrorType.HailoCompilerUnavailable || err.type === ErrorType.HailoCompileFailed)) {
      const pf = (err.details?.[0] as { preflight?: HailoPreflight } | undefined)?.preflight;
      // The work dir is deleted on failure: show the steps against a folder the reader creates.
      const shown = { ...req, ...buildHailoCompileRequest({ onnxPath: req.onnxPath, calibrationPath: req.calibrationPath, target, modelName: input.modelName, workDir: `./${req.netName}-hailo-build` }) };
      const cliSteps = hailoCliSteps(shown, pf);
      const steps = formatCommandLines(cliSteps);
      const warnings = pf?.warnings.length ? `\nPreflight warnings:\n- ${pf.warnings.join('\n- ')}` : '';
      throw ApplicationFailure.create({ type: err.type, nonRetryable: true, message: `${err.message}${warnings}\nThe same steps with the DFC CLI:\n${steps}`, details: [{ preflight: pf, cliSteps }] });
    }
    throw err;
  }
  if (!(answer.hefBytes > 0)) throw failure(ErrorType.HailoCompileFailed, 'the DFC produced an empty HEF');
  return {
    file: answer.hefPath,
    filename: hefFileName(input.modelName, target),
    format: 'hef',
    versions: { dfc: answer.dfcVersion },
    preflight: { ops: answer.preflight.ops, warnings: answer.preflight.warnings },
    binding: await fp32Binding(input.onnx, meta, work),
  };
}

/** One compiler per Hailo architecture: a hailo8 HEF fails on a hailo8l device, so they never mix. */
export function hailoCompiler(target: HailoTarget): TargetCompiler {
  return {
    compile(ctx: CompileContext): Promise<CompileResult> {
      return storedBuild(ctx, { keyOptions: {}, build: (work, progress) => compileHef(ctx, target, work, progress) });
    },
  };
}
