// The restart command of a simulated device:
//   node --import tsx sim/restart-runtime.ts <deviceDir>
// SIGTERMs the runtime named by the device's pidfile (SIGKILL after a bound), starts a new one
// and exits 0 once it accepts connections; non-zero (with the runtime's log tail) if it died.
// Test fault injection (faults.ts): when <deviceDir>/test-fault.json says this restart fails, it
// stops the runtime, starts none, notes it in the runtime's log and exits 1.
import { appendFileSync } from 'node:fs';
import { testFaultOnRestart } from './faults';
import { deviceLayout } from './layout';
import { restartDeviceRuntime, stopDeviceRuntime } from './runtime';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || process.argv.length !== 3) {
    process.stderr.write('usage: restart-runtime.ts <simulated device directory>\n');
    process.exit(2);
  }
  const refusal = testFaultOnRestart(dir);
  if (refusal) {
    // Like a runtime that crashes loading the model: the old process is gone, no new one serves.
    const oldPid = await stopDeviceRuntime(dir);
    appendFileSync(deviceLayout(dir).runtimeLog, `${new Date().toISOString()} ${refusal}\n`);
    process.stderr.write(`restart-runtime: ${refusal} (stopped pid ${oldPid ?? 'none'})\n`);
    process.exit(1);
  }
  const r = await restartDeviceRuntime(dir);
  process.stdout.write(`${JSON.stringify({ restarted: true, oldPid: r.oldPid ?? null, pid: r.pid, listening: r.listening })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`restart-runtime: ${(err as Error).message}\n`);
  process.exit(1);
});
