// Number flags of the command lines (commander argParsers): a bad value is refused with what was
// expected, before anything starts.
import { InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected an integer ≥ 0');
  return Number(value);
}
