// temporal-dev.yml runs the same dev server as `npm run dev-stack`, in Docker; YAML cannot import
// lib/temporalCli.ts, so it repeats DEV_SERVER_FLAGS by hand. This keeps the two from drifting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEV_SERVER_FLAGS } from '../../lib/temporalCli';

/** The items of the temporal service's `command:` list, unquoted. */
function composeCommand(yml: string): string[] {
  const lines = yml.split('\n');
  const start = lines.findIndex((l) => /^\s+command:\s*$/.test(l));
  assert.ok(start >= 0, 'temporal-dev.yml has no command: list');
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\s*#/.test(line)) continue;
    const item = /^\s+- (.*)$/.exec(line);
    if (!item) break;
    items.push(item[1].trim().replace(/^"(.*)"$/, '$1'));
  }
  return items;
}

describe('temporal-dev.yml', () => {
  it('starts its dev server with every flag the project gives its own (DEV_SERVER_FLAGS), each with its value', () => {
    const command = composeCommand(readFileSync(path.join(__dirname, '..', '..', 'temporal-dev.yml'), 'utf8'));
    for (let i = 0; i < DEV_SERVER_FLAGS.length; i += 2) {
      const [flag, value] = [DEV_SERVER_FLAGS[i], DEV_SERVER_FLAGS[i + 1]];
      const at = command.findIndex((item, j) => item === flag && command[j + 1] === value);
      assert.ok(at >= 0, `temporal-dev.yml lacks ${flag} ${value}`);
    }
  });
});
