// bench:fleet-scale reads the dev server's Prometheus counters before and after each program's
// rollout: per operation, per task type, only the program's namespace.
import assert from 'node:assert/strict';
import { parseCounters, perDevice } from '../../bench/fleet-scale/serverMetrics';

const SCRAPE = `# HELP persistence_requests persistence_requests counter
# TYPE persistence_requests counter
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 40
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="matching"} 2
persistence_requests{namespace="temporal_system",operation="UpdateWorkflowExecution",service_name="history"} 900
persistence_requests{namespace="default",operation="CreateTasks",service_name="matching"} 6
poll_success_sync{namespace="default",operation="PollWorkflowTaskQueue",partition="0",task_type="Workflow",taskqueue="control"} 3
poll_success_sync{namespace="default",operation="PollWorkflowTaskQueue",partition="1",task_type="Workflow",taskqueue="control"} 4
persistence_latency_bucket{namespace="default",operation="CreateTasks",le="0.001"} 6
cache_miss{cache_type="events",namespace_id="01a24d1e_d17a_71ee_8691_421079790899",operation="EventsCacheGetEvent",service_name="history"} 5
cache_miss{cache_type="events",namespace_id="32049b68_7872_4094_8e63_d0dd59896a83",operation="EventsCacheGetEvent",service_name="history"} 70
cache_entry_age_on_eviction_count{cache_type="events",service_name="history"} 9
cache_entry_age_on_eviction_bucket{cache_type="events",service_name="history",le="2"} 9
acquire_lock_failed{cache_type="mutablestate",namespace_id="01a24d1e_d17a_71ee_8691_421079790899",operation="HistoryCacheGetOrCreate",service_name="history"} 12
task_requests{archetype="workflow",namespace="default",operation="TransferActiveTaskStartChildExecution",service_name="history",task_priority="high",task_type="TransferActiveTaskStartChildExecution"} 17
`;

describe('the dev server counters bench:fleet-scale compares', () => {
  it('sums a counter over its other labels, by operation or task type, in the program’s namespace only', () => {
    const counters = parseCounters(SCRAPE);
    assert.equal(counters.get('persistence_requests UpdateWorkflowExecution'), 42);
    assert.equal(counters.get('persistence_requests CreateTasks'), 6);
    assert.equal(counters.get('poll_success_sync Workflow'), 7);
    assert.equal(counters.size, 7, 'histogram buckets are not counters to compare');
  });

  it('counts the events cache by cache and operation: what was read back from the database, what was dropped for want of room', () => {
    const counters = parseCounters(SCRAPE);
    assert.equal(counters.get('cache_miss events EventsCacheGetEvent'), 5, 'the system namespace (its fixed id) is left out');
    assert.equal(counters.get('cache_entry_age_on_eviction_count events'), 9);
  });

  it('counts the task processors\' tries against the locks they could not take', () => {
    const counters = parseCounters(SCRAPE);
    assert.equal(counters.get('acquire_lock_failed mutablestate HistoryCacheGetOrCreate'), 12);
    assert.equal(counters.get('task_requests TransferActiveTaskStartChildExecution'), 17);
  });

  it('gives what moved during the rollout, per device', () => {
    const before = parseCounters(SCRAPE);
    const after = parseCounters(SCRAPE.replace('CreateTasks",service_name="matching"} 6', 'CreateTasks",service_name="matching"} 26'));
    assert.deepEqual(perDevice(before, after, 10), { 'persistence_requests CreateTasks': 2 });
  });
});
