// edgeship keys create --out <dir> | edgeship keys id <file>: release signing keys (docs/security.md).
import { Command } from 'commander';
import { createReleaseKeyPair, keyIdOfFile } from '../releaseKeys';
import { printJson, UserError } from './shared';

export function keysCommand(): Command {
  const keys = new Command('keys').description('release signing keys: create a pair, show a key id');
  keys
    .command('create')
    .description('create an Ed25519 release key pair: release-key.pem (private, mode 0600: the GPU worker\'s --release-key) and release-key.pub.pem (public: each device\'s trusted key)')
    .requiredOption('--out <dir>', 'directory to write the two files to (created with mode 0700 if missing; existing key files are never overwritten)')
    .option('--json', 'machine-readable output (JSON on stdout)')
    .addHelpText('after', `
The key id is "ed25519:" + the first 16 hex digits of sha256 over the raw 32-byte public key.
Reports, device refusals and /healthz name keys by it. Keep the private key on the GPU server only;
rotate by adding the new public key to every device before the GPU worker signs with it
(docs/security.md, "Rotating the release key").`)
    .action((opts: { out: string; json?: boolean }) => {
      let created;
      try {
        created = createReleaseKeyPair(opts.out);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new UserError(code === 'EEXIST' ? `a release key already exists in ${opts.out}: refusing to overwrite it (a new key is a rotation: docs/security.md)` : `cannot create the key pair in ${opts.out}: ${(err as Error).message}`, 2);
      }
      if (opts.json) printJson(created);
      else process.stdout.write(`created release key ${created.keyId}\n  private (GPU worker --release-key, mode 0600): ${created.privateKeyPath}\n  public (devices' --trusted-key):             ${created.publicKeyPath}\n`);
    });
  keys
    .command('id')
    .description('print the key id of a release key file (public or private PEM)')
    .argument('<file>')
    .action((file: string) => {
      try {
        process.stdout.write(`${keyIdOfFile(file)}\n`);
      } catch (err) {
        throw new UserError(`${file}: ${(err as Error).message}`, 2);
      }
    });
  return keys;
}
