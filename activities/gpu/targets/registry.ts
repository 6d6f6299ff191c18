// Which compiler builds each target. Keyed by every CompileTarget (common/contracts.ts), so a
// target added there without a compiler here does not type-check.
import type { CompileTarget } from '../../../common/contracts';
import { cpuFp32Compiler } from './cpuFp32';
import { cpuInt8Compiler } from './cpuInt8';
import { hailoCompiler } from './hailo';
import type { TargetCompiler } from './targetCompiler';

export const TARGET_COMPILERS: Readonly<Record<CompileTarget, TargetCompiler>> = {
  'cpu-fp32': cpuFp32Compiler,
  'cpu-int8': cpuInt8Compiler,
  hailo8: hailoCompiler('hailo8'),
  hailo8l: hailoCompiler('hailo8l'),
};

/** The compiler of a target name from outside (a request), or undefined when none is known. */
export function compilerFor(target: string): { target: CompileTarget; compiler: TargetCompiler } | undefined {
  if (!Object.prototype.hasOwnProperty.call(TARGET_COMPILERS, target)) return undefined;
  return { target: target as CompileTarget, compiler: TARGET_COMPILERS[target as CompileTarget] };
}
