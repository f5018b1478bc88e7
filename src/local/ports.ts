import { createServer } from 'node:net';
import { DbRouterError } from '../errors.js';

/** Below Linux's ephemeral range (32768-60999), where an outgoing connection can hold a port we probed free. */
const SEARCH_FROM = 20_000;
const SEARCH_TO = 32_000;

/** True when nothing listens on 127.0.0.1:`port` (probed by binding it for a moment). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free loopback ports. With `basePort`, exactly `basePort..basePort+count-1`,
 * or `PORT_IN_USE` naming the first taken one; otherwise a free block from a random start.
 */
export async function findPortBlock(count: number, basePort?: number): Promise<number> {
  if (basePort !== undefined) {
    if (!Number.isInteger(basePort) || basePort < 1024 || basePort + count - 1 > 65_535) {
      throw new DbRouterError('CONFIG_INVALID', `base port ${basePort} is invalid: use a port between 1024 and ${65_535 - count + 1}`);
    }
    for (let port = basePort; port < basePort + count; port++) {
      if (!(await isPortFree(port))) {
        throw new DbRouterError(
          'PORT_IN_USE',
          `port ${port} on 127.0.0.1 is in use: pick another --base-port, or leave it out to pick free ports`,
        );
      }
    }
    return basePort;
  }
  const span = SEARCH_TO - SEARCH_FROM;
  const offset = Math.floor(Math.random() * span);
  for (let tries = 0; tries < 200; tries++) {
    const start = SEARCH_FROM + ((offset + tries * 16) % (span - count));
    let free = true;
    for (let port = start; port < start + count && free; port++) free = await isPortFree(port);
    if (free) return start;
  }
  throw new DbRouterError('PORT_IN_USE', `no ${count} consecutive free ports found between ${SEARCH_FROM} and ${SEARCH_TO}`);
}
