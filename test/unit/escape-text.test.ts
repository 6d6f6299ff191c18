// Free text shown in the Temporal UI's current details (Markdown + HTML) is shown as text.
import assert from 'node:assert/strict';
import { escapeText } from '../../workflows/escapeText';

describe('escapeText (UI details)', () => {
  it('neutralises links, HTML and emphasis, and keeps one line', () => {
    assert.equal(escapeText('see [here](http://evil.example)'), 'see \\[here\\]\\(http://evil\\.example\\)');
    assert.equal(escapeText('<b>bold</b> & <img src=x onerror=alert(1)>'), '\\<b\\>bold\\</b\\> \\& \\<img src=x onerror=alert\\(1\\)\\>');
    assert.equal(escapeText('*not* _emphasis_ `code`'), '\\*not\\* \\_emphasis\\_ \\`code\\`');
    assert.equal(escapeText('line one\nline two'), 'line one line two');
  });

  it('leaves plain ids readable once rendered (escapes only what Markdown would act on)', () => {
    assert.equal(escapeText('pi-01'), 'pi\\-01');
    assert.equal(escapeText('alice'), 'alice');
  });
});
