// Group ids by name from /etc/group, for tests that need a group other than root's own.
import { readFileSync } from 'node:fs';

export function lookupGroupId(name: string): number | undefined {
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
  return line ? Number(line.split(':')[2]) : undefined;
}
