// edgeship start: validate a deployment request (file and/or flags), derive its workflow id from
// the source's sha256, start deployModel and print the id with its Temporal UI link.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { COMPILE_TARGETS } from '../../common/contracts';
import { InvalidDeployRequest, parseDeployRequest, deploymentWorkflowId, type DeployRequest } from '../../common/request';
import { OFFLINE_POLICIES, ON_HALT } from '../../common/rollout';
import { planWaves } from '../../workflows/fleet/plan';
import { workflowUiLink, workflowUiUrl } from '../connection';
import { applyRolloutFlags, RolloutFlagError, withFlagName, type RolloutFlags } from '../rolloutFlags';
import { absolutizeSource, CheckpointUnreadable, sourceSha256, startDeployment } from '../startDeployment';
import { printJson, UserError, withClient, withCommonOptions, type CommonOptions } from './shared';

interface StartOptions extends CommonOptions, RolloutFlags {
  request?: string;
  model?: string;
  checkpoint?: string;
  exportCommand?: string;
  cwd?: string;
  target?: string;
  devices?: string;
  samples?: string;
  dataDir?: string;
  conv2d?: boolean;
  approval?: boolean;
  approvalTimeout?: string;
  approver?: string[];
  onBusy?: string;
  queueTimeout?: string;
  allowDowngrade?: boolean;
  dryRun?: boolean;
}

function readRequestFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read request file ${file}: ${(err as Error).message}`);
  }
  try {
    const raw: unknown = JSON.parse(text);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('expected a JSON object');
    return raw as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`request file ${file} is not a JSON object: ${(err as Error).message}`);
  }
}

function parseArgv(json: string): string[] {
  try {
    const argv: unknown = JSON.parse(json);
    if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string')) return argv;
  } catch {
    // fall through
  }
  throw new UserError(`--export-command takes a JSON array of strings, e.g. '["python","export.py"]' (no shell is involved)`);
}

/** Flags override the request file, section by section. */
export function buildRawRequest(opts: StartOptions, cwd = process.cwd()): { raw: Record<string, unknown>; baseDir: string } {
  const raw = opts.request ? readRequestFile(opts.request) : {};
  const baseDir = opts.request ? path.dirname(path.resolve(opts.request)) : cwd;
  const section = (name: string): Record<string, unknown> => ({ ...((raw[name] as Record<string, unknown> | undefined) ?? {}) });
  if (opts.model) raw.modelName = opts.model;
  if (opts.checkpoint && opts.exportCommand) throw new UserError('give either --checkpoint or --export-command, not both');
  if (opts.checkpoint) raw.source = { kind: 'checkpoint', checkpointPath: path.resolve(cwd, opts.checkpoint) };
  if (opts.exportCommand) raw.source = { kind: 'command', argv: parseArgv(opts.exportCommand), ...(opts.cwd ? { cwd: path.resolve(cwd, opts.cwd) } : {}) };
  if (opts.target) raw.target = opts.target;
  if (opts.devices) raw.devices = opts.devices.split(',').map((d) => d.trim()).filter(Boolean);
  if (opts.conv2d) raw.conv2d = true;
  if (opts.onBusy) raw.onBusy = opts.onBusy;
  if (opts.allowDowngrade) raw.allowDowngrade = true;
  if (opts.queueTimeout) raw.queueTimeout = /^\d+$/.test(opts.queueTimeout) ? Number(opts.queueTimeout) : opts.queueTimeout;
  if (opts.samples || opts.dataDir) {
    const calibration = section('calibration');
    if (opts.samples) calibration.samples = Number(opts.samples);
    if (opts.dataDir) calibration.dataDir = path.resolve(cwd, opts.dataDir);
    raw.calibration = calibration;
  }
  if (opts.approval === false || opts.approvalTimeout || opts.approver?.length) {
    const approval = section('approval');
    if (opts.approval === false) approval.required = false;
    if (opts.approvalTimeout) approval.timeout = /^\d+$/.test(opts.approvalTimeout) ? Number(opts.approvalTimeout) : opts.approvalTimeout;
    if (opts.approver?.length) approval.approvers = opts.approver;
    raw.approval = approval;
  }
  // Fleet rollout flags: any of them turns the plan on, merged over the file's `rollout`.
  try {
    applyRolloutFlags(raw, opts);
  } catch (err) {
    if (err instanceof RolloutFlagError) throw new UserError(`${err.message} (see \`edgeship start --help\`)`, 2);
    throw err;
  }
  return { raw, baseDir };
}

/** "fleet rollout: canary pi-01 → wave-1 (2) → wave-2 (1); 4 at once; approval after-canary". */
function rolloutSummary(request: DeployRequest): string {
  const plan = request.rollout;
  if (!plan) return '';
  const [canary, ...waves] = planWaves(request.devices, plan);
  const approval = request.approval.required ? plan.approval : 'none';
  return `fleet rollout: canary ${canary.devices.join(', ')}${waves.map((w) => ` → ${w.name} (${w.devices.length})`).join('')}; ${plan.maxParallel} at once; approval ${approval}; on halt ${plan.onHalt}`;
}

async function run(opts: StartOptions): Promise<void> {
  const { raw, baseDir } = buildRawRequest(opts);
  let request;
  try {
    request = parseDeployRequest(raw);
  } catch (err) {
    if (err instanceof InvalidDeployRequest) {
      const issues = err.issues.map((i) => withFlagName(i, opts));
      throw new UserError(`${new InvalidDeployRequest(issues).message}\n(see \`edgeship start --help\`)`, 2);
    }
    throw err;
  }
  request = { ...request, source: absolutizeSource(request.source, baseDir) };
  if (opts.dryRun) {
    const sha = request.sourceSha256 ?? (await sourceSha256(request.source));
    const out = { workflowId: deploymentWorkflowId(request.modelName, request.target, sha), request: { ...request, sourceSha256: sha } };
    if (opts.json) printJson(out);
    else process.stdout.write(`would start ${out.workflowId}\n${JSON.stringify(out.request, null, 2)}\n${request.rollout ? `${rolloutSummary(request)}\n` : ''}`);
    return;
  }
  await withClient(opts, async (client) => {
    let started;
    try {
      started = await startDeployment(client, request);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new UserError(`${err.workflowId} is already running (same model and source): follow it with \`edgeship watch ${err.workflowId}\`, or cancel it first`);
      }
      throw err;
    }
    const uiUrl = workflowUiUrl(opts, started.workflowId);
    if (opts.json) {
      printJson({ workflowId: started.workflowId, runId: started.runId, namespace: opts.namespace, uiUrl: workflowUiLink(opts, started.workflowId) ?? null, request: started.request });
      return;
    }
    process.stdout.write(
      [
        `started ${started.workflowId} (run ${started.runId})`,
        `  ${request.modelName} → ${request.target} on ${request.devices.join(', ')}; approval ${request.approval.required ? `required within ${request.approval.timeout / 1000} s` : 'not required'}`,
        request.rollout ? `  ${rolloutSummary(request)}` : '',
        request.allowDowngrade ? '  allowDowngrade: devices may install this release even if it is older than the one they serve' : '',
        `  Temporal UI: ${uiUrl}`,
        `  follow:  edgeship watch ${started.workflowId}`,
        request.approval.required ? `  approve: edgeship approve ${started.workflowId} --by <you>` : '',
      ].filter(Boolean).join('\n') + '\n',
    );
  });
}

export function startCommand(): Command {
  return withCommonOptions(new Command('start'))
    .description('start a deployment: export → calibrate → compile → stage → approval → swap → validate')
    .option('--request <file>', 'deployment request (JSON; see common/request.ts); flags below override it')
    .option('--model <name>', 'model name (lowercase letters, digits, dashes)')
    .option('--checkpoint <file>', 'PyTorch checkpoint to export')
    .option('--export-command <json-argv>', 'your own export command as a JSON array (writes model.onnx + reference.json to $EDGESHIP_EXPORT_DIR)')
    .option('--cwd <dir>', 'working directory of --export-command')
    .addOption(new Option('--target <target>', 'compile target').choices([...COMPILE_TARGETS]))
    .option('--devices <ids>', 'comma-separated device ids from the inventory')
    .option('--samples <n>', 'calibration windows (default 2000)')
    .option('--data-dir <dir>', 'recorded calibration windows (default: synthetic activity patterns)')
    .option('--conv2d', 'export the Conv2d-equivalent graph (friendlier to NPU compilers)')
    .option('--no-approval', 'swap without waiting for a person')
    .option('--approval-timeout <duration>', 'how long to wait for a decision before rejecting (e.g. 30m, 24h; default 24h)')
    .option('--approver <name...>', 'only these people may approve or reject')
    .addOption(new Option('--on-busy <what>', 'when another deployment holds a device: wait in its queue, or fail at once').choices(['queue', 'fail']))
    .option('--queue-timeout <duration>', 'how long to wait for busy devices before failing (default 24h)')
    .option('--allow-downgrade', 'let devices that check signatures install a signed release older than the one they serve (shown on the approval screen and in the report)')
    .option('--canary <n|ids>', 'fleet rollout: canary devices, a count of the first listed (e.g. 1) or comma-separated ids (default 1)')
    .option('--waves <list>', 'fleet rollout: wave sizes after the canary, comma-separated device counts or fleet percentages, e.g. 2,25%,50% (the rest forms a last wave)')
    .option('--max-parallel <n>', 'fleet rollout: devices swapped at once within a wave (default 10)')
    .option('--soak <duration>', 'fleet rollout: watch each validated device this long (e.g. 2m; default 0, none)')
    .option('--halt-max-failed <n>', 'fleet rollout: halt when more than n devices failed (default 0 unless a percentage is given)')
    .option('--halt-max-failed-percent <p>', 'fleet rollout: halt when more than p % of the devices done failed...')
    .option('--halt-min-done <n>', '...once at least n devices are done (default 10)')
    .option('--on-halt <what>', `fleet rollout: after a halt, ${ON_HALT.join(' (default) or ')}`)
    .option('--approve-each-wave', 'fleet rollout: ask for approval before every wave, not only after the canary')
    .option('--offline <what>', `fleet rollout: devices whose edge worker does not answer: ${OFFLINE_POLICIES.join(' (default) or ')}`)
    .option('--offline-after <duration>', 'fleet rollout: a device that has not picked up its first call after this long is offline (default 30s)')
    .option('--rollout-deadline <duration>', 'fleet rollout, --offline catch-up: how long offline devices are still brought up to date (default 24h)')
    .option('--dry-run', 'validate the request and print the workflow id without starting')
    .addHelpText('after', `
The workflow id is deploy-<model>-<target>-<first 12 hex of the source sha256>. While a
deployment with that id runs, starting it again is refused; once it has ended it may be started
again (a new run: nothing of the earlier run is reused on the devices).

Each device has one owner at a time: a deployment waits in the queue of a device that another
deployment holds (position shown by \`edgeship status\` and \`edgeship devices\`), or fails at
once with DeviceBusy with --on-busy fail. Nothing is staged before every lease is held.

A fleet rollout (the request's \`rollout\`): any --canary … --rollout-deadline flag turns it on,
merged over the request file's rollout; fields not given take the defaults of common/request.ts.
The canary goes first and halts on any failure; with approval the run waits after the canary,
showing its figures next to devices still on the old model (--approve-each-wave: before every
wave too). A bare number for --canary is a count; device ids made only of digits go in a file.

Examples:
  edgeship start --model tcn-vae --checkpoint ckpt/tcn_vae.pt --target cpu-int8 --devices pi-01,pi-02
  edgeship start --request deploy.json --approver alice --approver bob
  edgeship start --request deploy.json --canary 1 --waves 25%,50% --max-parallel 4 --halt-max-failed-percent 5 --soak 2m`)
    .action(async (opts: StartOptions) => {
      try {
        await run(opts);
      } catch (err) {
        if (err instanceof CheckpointUnreadable) throw new UserError(`${err.message} (--checkpoint, or source.checkpointPath in the request file)`, 2);
        throw err;
      }
    });
}
