import assert from 'node:assert/strict';
import { refuseDecision, type ApprovalGate } from '../../workflows/approval';

const awaiting: ApprovalGate = { awaiting: true, decided: false, stage: 'approval' };

describe('approval rules (update validator and signals)', () => {
  it('accepts a well-formed approval or rejection while awaiting', () => {
    assert.equal(refuseDecision(awaiting, { decision: 'approve', by: 'alice' }), undefined);
    assert.equal(refuseDecision(awaiting, { decision: 'reject', by: 'bob', reason: 'drift' }), undefined);
  });

  it('refuses outside the approval stage and after a decision', () => {
    assert.match(refuseDecision({ ...awaiting, awaiting: false, stage: 'compile' }, { decision: 'approve', by: 'alice' }) ?? '', /not awaiting approval \(stage: compile\)/);
    assert.match(refuseDecision({ ...awaiting, decided: true }, { decision: 'approve', by: 'alice' }) ?? '', /already been decided/);
  });

  it('refuses unknown approvers when a list is given (names are trimmed)', () => {
    const gate = { ...awaiting, approvers: ['carol'] };
    assert.match(refuseDecision(gate, { decision: 'approve', by: 'mallory' }) ?? '', /mallory is not an allowed approver \(allowed: carol\)/);
    assert.equal(refuseDecision(gate, { decision: 'approve', by: ' carol ' }), undefined);
  });

  it('refuses malformed payloads with a hint', () => {
    assert.match(refuseDecision(awaiting, null) ?? '', /expected an object/);
    assert.match(refuseDecision(awaiting, { decision: 'approve' }) ?? '', /"by"/);
    assert.match(refuseDecision(awaiting, { decision: 'approve', by: '  ' }) ?? '', /"by"/);
    assert.match(refuseDecision(awaiting, { decision: 'reject', by: 'bob' }) ?? '', /needs a "reason"/);
    assert.match(refuseDecision(awaiting, { decision: 'maybe', by: 'bob' }) ?? '', /approve" or "reject/);
    assert.match(refuseDecision(awaiting, { decision: 'approve', by: 'bob', comment: 3 }) ?? '', /"comment"/);
  });
});
