// Fault injection: a TCP proxy in front of a device's SSH server that cuts the first N
// connections once the client has sent K bytes — an sshd that "drops mid-upload". Works with
// OpenSSH and the embedded server alike, since it never needs to decrypt anything.
import { createConnection, createServer, type Socket } from 'node:net';

export interface DropProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** Client→server bytes after which a doomed connection is cut (handshake included). */
  dropAfterBytes: number;
  /** How many connections, counted from the first, are cut. */
  dropConnections?: number;
}

export interface DropProxy {
  port: number;
  /** Connections cut so far. */
  readonly dropped: number;
  stop(): Promise<void>;
}

export async function startDropProxy(opts: DropProxyOptions): Promise<DropProxy> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let dropped = 0;
  const server = createServer((client) => {
    const doomed = connections++ < (opts.dropConnections ?? 1);
    const upstream = createConnection({ port: opts.targetPort, host: opts.targetHost ?? '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (doomed && sent >= opts.dropAfterBytes) {
        dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    get dropped() {
      return dropped;
    },
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
