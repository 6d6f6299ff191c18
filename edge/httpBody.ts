// Reads a request body with a hard size cap, so a client cannot make the runtime buffer
// arbitrary amounts of memory on a small device.
import type { IncomingMessage } from 'node:http';
import { RequestError } from './requestParsing';

/** The body as bytes: the /infer scanner reads them directly, without a UTF-8 decode first. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume(); // drain so the connection can still carry the 413
    return Promise.reject(new RequestError(413, `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        chunks.length = 0;
        reject(new RequestError(413, `body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}
