// Connection settings: flags > environment > temporal.toml profile > defaults, for the client
// and the workers alike, and the Web UI link derived from where the connection goes.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { ConnectionConfigError, resolveConnection, temporalUiUrl } from '../../lib/connectionConfig';
import { addConnectionOptions, applyConnectionDefaults, workflowUiLink, workflowUiUrl } from '../../clients/connection';
import { addConnectionFlags, type ConnectionFlags } from '../../workers/connectionFlags';

const TOML = `
[profile.default]
address = "temporal.internal:7233"
namespace = "ml-prod"

[profile.local]
address = "localhost:7233"
namespace = "dev"

[profile.cloud]
address = "edgeship.a1b2c.tmprl.cloud:7233"
namespace = "edgeship.a1b2c"
api_key = "secret-key"

[profile.mtls]
address = "temporal.internal:7233"
[profile.mtls.tls]
client_cert_path = "CERT"
client_key_path = "KEY"
server_name = "temporal.internal"
`;

describe('Temporal connection settings', () => {
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  const saved: Record<string, string | undefined> = {};

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeship-conn-'));
    writeFileSync(path.join(dir, 'client.pem'), 'CERT PEM');
    writeFileSync(path.join(dir, 'client.key'), 'KEY PEM');
    writeFileSync(path.join(dir, 'ca.pem'), 'CA PEM');
    configFile = path.join(dir, 'temporal.toml');
    writeFileSync(configFile, TOML.replace('"CERT"', JSON.stringify(path.join(dir, 'client.pem'))).replace('"KEY"', JSON.stringify(path.join(dir, 'client.key'))));
    // A home of its own: the developer's real ~/.config/temporalio/temporal.toml stays out.
    env = { HOME: dir, TEMPORAL_CONFIG_FILE: configFile };
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Commander reads the flags' environment variables from process.env at parse time. */
  function setProcessEnv(vars: Record<string, string>): void {
    for (const [k, v] of Object.entries(vars)) {
      if (!(k in saved)) saved[k] = process.env[k];
      process.env[k] = v;
    }
  }

  function parseClient(argv: string[]): Command {
    let parsed: Command | undefined;
    const cmd = addConnectionOptions(new Command('status')).argument('[id]').action((_id, _o, c: Command) => void (parsed = c));
    cmd.parse(argv, { from: 'user' });
    assert.ok(parsed);
    return parsed;
  }

  it('without flags, environment or config file: the local dev server and its UI', () => {
    const r = resolveConnection({}, { HOME: dir });
    assert.equal(r.address, 'localhost:7233');
    assert.equal(r.namespace, 'default');
    assert.equal(r.tls, false);
    assert.equal(r.uiUrl, 'http://localhost:8233');
    assert.equal(r.profile, undefined);
  });

  it('reads the default profile of the file the temporal CLI reads (~/.config/temporalio/temporal.toml)', () => {
    mkdirSync(path.join(dir, '.config', 'temporalio'), { recursive: true });
    writeFileSync(path.join(dir, '.config', 'temporalio', 'temporal.toml'), TOML);
    const r = resolveConnection({}, { HOME: dir });
    assert.equal(r.address, 'temporal.internal:7233');
    assert.equal(r.namespace, 'ml-prod');
    assert.deepEqual(r.profile, { name: 'default', file: path.join(dir, '.config', 'temporalio', 'temporal.toml') });
  });

  it('TEMPORAL_PROFILE picks a profile; --profile wins over it', () => {
    assert.equal(resolveConnection({}, { ...env, TEMPORAL_PROFILE: 'local' }).namespace, 'dev');
    assert.equal(resolveConnection({ profile: 'cloud' }, { ...env, TEMPORAL_PROFILE: 'local' }).namespace, 'edgeship.a1b2c');
  });

  it('--config-file names the file instead of TEMPORAL_CONFIG_FILE', () => {
    const other = path.join(dir, 'other.toml');
    writeFileSync(other, '[profile.default]\naddress = "other:7233"\n');
    assert.equal(resolveConnection({ configFile: other }, env).address, 'other:7233');
  });

  it('precedence is flag > environment > profile > default, field by field', () => {
    // profile only
    let r = applyConnectionDefaults(parseClient([]), env);
    assert.equal(r.address, 'temporal.internal:7233');
    // environment over profile
    setProcessEnv({ TEMPORAL_ADDRESS: 'from-env:7233' });
    let cmd = parseClient([]);
    r = applyConnectionDefaults(cmd, env);
    assert.equal(r.address, 'from-env:7233');
    assert.equal(r.namespace, 'ml-prod', 'an unset field still comes from the profile');
    // flag over environment
    cmd = parseClient(['--address', 'from-flag:7233', '--namespace', 'ns-flag']);
    r = applyConnectionDefaults(cmd, env);
    assert.equal(r.address, 'from-flag:7233');
    assert.equal(r.namespace, 'ns-flag');
    // what the command's action then sees
    assert.deepEqual({ address: cmd.opts().address as string, namespace: cmd.opts().namespace as string }, { address: 'from-flag:7233', namespace: 'ns-flag' });
  });

  it('the profile fills the options the action sees (so printed output names the real target)', () => {
    const cmd = parseClient(['--profile', 'local']);
    applyConnectionDefaults(cmd, env);
    assert.equal(cmd.opts().address, 'localhost:7233');
    assert.equal(cmd.opts().namespace, 'dev');
    assert.equal(cmd.getOptionValueSource('namespace'), 'config');
  });

  it('workers read the same flags, environment and profiles', () => {
    setProcessEnv({ TEMPORAL_PROFILE: 'cloud' });
    const cmd = addConnectionFlags(new Command('gpu-worker'));
    cmd.parse([], { from: 'user' });
    const r = resolveConnection(cmd.opts<ConnectionFlags>(), { ...env, TEMPORAL_PROFILE: 'cloud' });
    assert.equal(r.address, 'edgeship.a1b2c.tmprl.cloud:7233');
    assert.equal(r.options.apiKey, 'secret-key');
    assert.equal(r.options.tls, true, 'an API key implies TLS');
  });

  it('TLS: the profile\'s mTLS files are read; a TLS flag overrides its field', () => {
    const r = resolveConnection({ profile: 'mtls', tlsCa: path.join(dir, 'ca.pem') }, env);
    assert.ok(typeof r.options.tls === 'object' && r.options.tls);
    const tls = r.options.tls;
    // envconfig hands the file contents over as Uint8Array; both connection kinds accept that.
    const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString() : undefined);
    assert.equal(text(tls.clientCertPair?.crt), 'CERT PEM');
    assert.equal(text(tls.clientCertPair?.key), 'KEY PEM');
    assert.equal(tls.serverNameOverride, 'temporal.internal');
    assert.equal(text(tls.serverRootCACertificate), 'CA PEM');
  });

  it('clear errors: unknown profile, missing config file, half an mTLS pair, unreadable TLS file', () => {
    assert.throws(() => resolveConnection({ profile: 'nope' }, env), (e: unknown) => e instanceof ConnectionConfigError && /profile "nope" is not in .*temporal\.toml/.test(e.message));
    assert.throws(() => resolveConnection({ configFile: path.join(dir, 'missing.toml') }, env), /missing\.toml does not exist/);
    assert.throws(() => resolveConnection({ tlsCert: path.join(dir, 'client.pem') }, env), /--tls-cert and --tls-key go together/);
    assert.throws(() => resolveConnection({ tlsCa: path.join(dir, 'nope.pem') }, env), (e: unknown) => e instanceof ConnectionConfigError && /nope\.pem/.test(e.message));
  });
});

describe('Temporal Web UI link', () => {
  it('an explicit --ui-url / EDGESHIP_UI_URL wins', () => {
    assert.equal(temporalUiUrl({ address: 'temporal.internal:7233', tls: true, uiUrl: 'https://temporal.example.com/' }), 'https://temporal.example.com');
  });

  it('a local dev server: the same host, the frontend port + 1000 (start-dev\'s convention)', () => {
    assert.equal(temporalUiUrl({ address: 'localhost:7233', tls: false }), 'http://localhost:8233');
    assert.equal(temporalUiUrl({ address: '127.0.0.1:17233', tls: false }), 'http://127.0.0.1:18233');
    assert.equal(temporalUiUrl({ address: '[::1]:7233', tls: false }), 'http://[::1]:8233');
    assert.equal(temporalUiUrl({ address: 'localhost', tls: false }), 'http://localhost:8233');
  });

  it('anything else: no link rather than a wrong one', () => {
    assert.equal(temporalUiUrl({ address: 'temporal.internal:7233', tls: false }), undefined);
    assert.equal(temporalUiUrl({ address: '10.0.0.5:7233', tls: false }), undefined);
    assert.equal(temporalUiUrl({ address: 'localhost:7233', tls: true }), undefined, 'a TLS frontend is not a dev server');
  });

  it('the run link follows --address, and says so when no UI is known', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'edgeship-ui-'));
    try {
      const env = { HOME: home };
      assert.equal(workflowUiLink({ address: '127.0.0.1:7300', namespace: 'my ns' }, 'deploy-x', 'run-1', env), 'http://127.0.0.1:8300/namespaces/my%20ns/workflows/deploy-x/run-1/history');
      assert.equal(workflowUiLink({ address: 'temporal.internal:7233' }, 'deploy-x', undefined, env), undefined);
      assert.equal(workflowUiUrl({ address: 'temporal.internal:7233' }, 'deploy-x', undefined, env), '(no Temporal Web UI URL known for temporal.internal:7233: pass --ui-url or set EDGESHIP_UI_URL)');
      assert.equal(workflowUiUrl({ address: 'temporal.internal:7233', uiUrl: 'https://ui.internal' }, 'deploy-x', undefined, env), 'https://ui.internal/namespaces/default/workflows/deploy-x');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
