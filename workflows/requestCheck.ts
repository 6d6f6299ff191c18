// The workflow's own check of its input, with the very schema the client uses
// (common/request.ts): a run started by hand (`temporal workflow start --input …`, the UI's
// start button) gets the same defaults and the same clear InvalidRequest as `edgeship start`,
// before any device is touched — nothing computed from a missing field reaches an activity.
import { ErrorType } from '../common/errors';
// The one zod module workflow code runs, on purpose: a raw start gets the client's own schema.
// eslint-disable-next-line no-restricted-imports -- common/workflowImports.json: request.ts is the named exception
import { InvalidDeployRequest, parseDeployRequest, type DeployRequest } from '../common/request';
import { deploymentFailure } from './failures';

export function checkRequest(raw: unknown): DeployRequest {
  try {
    return parseDeployRequest(raw);
  } catch (err) {
    if (err instanceof InvalidDeployRequest) {
      throw deploymentFailure(ErrorType.InvalidRequest, `${err.message}\n(start deployments with \`edgeship start\`, or send a request that matches docs/request.md)`, { problems: err.issues });
    }
    throw err;
  }
}
