// How many device rollouts a wave has asked the server to start and not yet seen started.
//
// Why a window: the history service starts a child while holding the parent's lock, for the whole
// creation of the child (its first events, its search attributes, its visibility row), and records
// the child's start under the same lock. A wave that asks for 200 starts in one workflow task
// queues 200 such tasks on one lock; every task that waits longer than the server's lock timeout
// for background work (history.cacheNonUserContextLockTimeout, 500 ms) gives up and is retried
// after a backoff. Measured on this repo's 2-core machine at 1,000 devices in waves of 200: each
// child start ran 4.5–5.9 times (`task_requests TransferActiveTaskStartChildExecution` per device),
// and the retries' backoff left the wave waiting. With at most 10 starts outstanding, each start
// ran 1.01–1.08 times, and waves of 2,000 devices went faster (docs/fleet-scale.md). The window
// bounds only the starts in flight: maxParallel still bounds the devices running, and a start
// takes milliseconds while a device's part takes minutes.
//
// Histories recorded before the window asked for every free slot's start at once; they replay so.
export const WAVE_START_WINDOW = 10;
export const WAVE_START_WINDOW_PATCH = 'edgeship-wave-start-window';
