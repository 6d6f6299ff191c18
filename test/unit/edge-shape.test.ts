// edge/shape.ts, the validator that replaced zod on the device: every problem with its path, rules
// that keep checking after a pattern or range fails (so an object's own rules still run), unknown
// fields stripped or (strict) reported, defaults applied, and the model metadata and release
// manifest readers' messages.
import assert from 'node:assert/strict';
import { parseModelMetadata } from '../../edge/metadata';
import { parseSignedManifest } from '../../edge/releaseManifest';
import { array, number, object, optional, parse, pathText, string, withDefault } from '../../edge/shape';

describe('edge/shape (the device validator)', () => {
  const s = object({
    name: string({ min: 1, pattern: /^[a-z]+$/, patternMessage: 'lowercase letters' }),
    port: withDefault(number({ int: true, min: 1, max: 65535 }), 9000),
    tags: optional(array(string(), { max: 2 })),
    inner: withDefault(object({ depth: withDefault(number({ int: true }), 1) }, { strict: true }), {}),
  }, {
    strict: true,
    refine: (v, report) => {
      if (v.name === 'bad') report(['name'], 'refined away');
    },
  });

  it('applies defaults, drops nothing it knows, and types the result', () => {
    const r = parse(s, { name: 'ok' });
    assert.deepEqual(r, { ok: true, value: { name: 'ok', port: 9000, inner: { depth: 1 } } });
  });

  it('lists every problem with its path, and runs the object rule despite a pattern failure', () => {
    const r = parse(s, { name: 'Bad!', port: 0.5, tags: ['a', 2, 'c'], inner: { depth: 'x', extra: 1 }, other: true });
    assert.equal(r.ok, false);
    const lines = r.ok ? [] : r.issues.map((i) => `${pathText(i.path)}: ${i.message}`);
    assert.deepEqual(lines, [
      'name: lowercase letters',
      'port: must be an integer from 1 to 65535, got 0.5',
      'tags: must have at most 2 items, got 3',
      'tags[1]: expected a string, got 2',
      'inner.depth: expected a number, got "x"',
      'inner: unknown field extra',
      ': unknown field other',
    ]);
    const refined = parse(s, { name: 'bad' });
    assert.deepEqual(refined.ok ? [] : refined.issues.map((i) => i.message), ['refined away']);
  });

  it('rejects malformed model metadata and release manifests with the field named', () => {
    assert.throws(() => parseModelMetadata({ schema: 'edgeship.model/1', modelName: '' }, 'm.meta.json'), /^MetadataError: m\.meta\.json is not valid model metadata: modelName: must not be empty; format: must be one of onnx, hef, got nothing/);
    assert.throws(() => parseSignedManifest({ manifest: {}, signature: { alg: 'rsa' } }, 'x.manifest.json'), /x\.manifest\.json is not a signed release manifest: manifest\.schema: must be "edgeship\.release-manifest\/1", got nothing/);
  });
});
