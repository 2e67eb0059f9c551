import http, { type RequestListener } from 'node:http';

/** How long a client may take to send a whole request; slow-body clients are cut off with 408. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * An HTTP server for an app, with the limits a public endpoint needs: a deadline for receiving the request
 * (slow bodies, slow headers), and a cap on header count. Node's default request timeout is five minutes.
 */
export function createHardenedServer(
  app?: RequestListener,
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): http.Server {
  const options = { requestTimeout: requestTimeoutMs, headersTimeout: Math.min(requestTimeoutMs, 20_000) };
  const server = app ? http.createServer(options, app) : http.createServer(options);
  server.maxHeadersCount = 100;
  return server;
}
