// The restart command of a simulated device:
//   node --import tsx scripts/sim/restart-runtime.ts <deviceDir>
// SIGTERMs the runtime named by the device's pidfile (SIGKILL after a bound), starts a new one
// and exits 0 once it accepts connections; non-zero (with the runtime's log tail) if it died.
import { restartDeviceRuntime } from './runtime';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || process.argv.length !== 3) {
    process.stderr.write('usage: restart-runtime.ts <simulated device directory>\n');
    process.exit(2);
  }
  const r = await restartDeviceRuntime(dir);
  process.stdout.write(`${JSON.stringify({ restarted: true, oldPid: r.oldPid ?? null, pid: r.pid, listening: r.listening })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`restart-runtime: ${(err as Error).message}\n`);
  process.exit(1);
});
