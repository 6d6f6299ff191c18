// The smallest workflow that stays open: what a cached execution costs with nothing of edgeship's
// in it (the baseline for bench/workflow-heap.ts).
import { condition } from '@temporalio/workflow';

export async function bareParked(): Promise<void> {
  await condition(() => false);
}
