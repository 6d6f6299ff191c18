import assert from 'node:assert/strict';
import { escapeLabelValue, routeLabel, RuntimeMetrics } from '../../edge/metrics';

describe('edge runtime metrics text', () => {
  it('renders counters, histogram buckets and the model info gauge', () => {
    const m = new RuntimeMetrics();
    m.recordRequest('/infer', 200, 0.002);
    m.recordRequest('/infer', 200, 0.02);
    m.recordRequest('/infer', 400, 0.0001);
    m.recordError('non_finite_output');
    m.recordWindows(3);
    m.recordInference(0.0015);
    m.recordInference(0.003);
    const text = m.render({ ready: true, uptimeSeconds: 1.5, residentMemoryBytes: 1234, model: { model: 'abc', sha256: 'f'.repeat(64), device: 'dev-1' } });
    assert.match(text, /^edgeship_http_requests_total\{route="\/infer",status="200"\} 2$/m);
    assert.match(text, /^edgeship_http_requests_total\{route="\/infer",status="400"\} 1$/m);
    assert.match(text, /^edgeship_errors_total\{kind="non_finite_output"\} 1$/m);
    assert.match(text, /^edgeship_inference_windows_total 3$/m);
    assert.match(text, /^edgeship_request_duration_seconds_bucket\{route="\/infer",le="0.0005"\} 1$/m);
    assert.match(text, /^edgeship_request_duration_seconds_bucket\{route="\/infer",le="0.0025"\} 2$/m);
    assert.match(text, /^edgeship_request_duration_seconds_bucket\{route="\/infer",le="\+Inf"\} 3$/m);
    assert.match(text, /^edgeship_request_duration_seconds_count\{route="\/infer"\} 3$/m);
    assert.match(text, new RegExp(`^edgeship_model_info\\{model="abc",sha256="${'f'.repeat(64)}",device="dev-1"\\} 1$`, 'm'));
    assert.match(text, /^edgeship_inference_duration_seconds_bucket\{le="0.001"\} 0$/m);
    assert.match(text, /^edgeship_inference_duration_seconds_bucket\{le="0.0025"\} 1$/m);
    assert.match(text, /^edgeship_inference_duration_seconds_bucket\{le="0.005"\} 2$/m);
    assert.match(text, /^edgeship_inference_duration_seconds_count 2$/m);
    assert.match(text, /^# TYPE edgeship_inference_duration_seconds histogram$/m);
    assert.match(text, /^edgeship_ready 1$/m);
    assert.match(text, /^# TYPE edgeship_request_duration_seconds histogram$/m);
    assert.ok(text.endsWith('\n'));
  });

  it('omits the model gauge and reports not ready without a model', () => {
    const text = new RuntimeMetrics().render({ ready: false, uptimeSeconds: 0, residentMemoryBytes: 1, model: null });
    assert.doesNotMatch(text, /^edgeship_model_info\{/m);
    assert.match(text, /^edgeship_ready 0$/m);
  });

  it('escapes label values and bounds route labels', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    assert.equal(routeLabel('/infer'), '/infer');
    assert.equal(routeLabel('/../etc/passwd'), 'other');
  });
});
