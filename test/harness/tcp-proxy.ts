/**
 * A userspace TCP proxy in front of one server, for tests of a network that goes silent: a
 * partition or a black hole, not a crash. `silence()` stops forwarding both ways and keeps every
 * socket open (no RST, no FIN): the client's kernel still acknowledges what it sends, so only a
 * timeout or dbrouter's health checks can tell. `restore()` resumes forwarding what was held, as
 * TCP would after a partition heals. `delay(ms)` slows every chunk each way (a slow, live network).
 *
 *   const proxy = await startProxy(5432);
 *   const url = `postgres://app@127.0.0.1:${proxy.port}/db`;
 *   proxy.silence(); ...; proxy.restore();
 *   await proxy.close();
 */
import net from 'node:net';

export interface TcpProxy {
  /** The proxy's own port on 127.0.0.1. */
  readonly port: number;
  /** Connections accepted so far (open or closed). */
  readonly accepted: number;
  /** Stops forwarding both ways; sockets stay open, data waits in their buffers. New connections are accepted and held the same way. */
  silence(): void;
  /** Forwards again, held data first. */
  restore(): void;
  /** Delays every chunk by `ms` each way (0: none). */
  delay(ms: number): void;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  readonly server: net.Socket;
}

/** What a proxy can also do. */
export interface ProxyOptions {
  /** Sees every chunk a client sends, with a number for its connection (1, 2, …), before it is forwarded. */
  readonly onClientChunk?: (connection: number, chunk: Buffer) => void;
}

/** Starts a proxy on a free port of 127.0.0.1 to `targetPort` on `targetHost`. */
export async function startProxy(targetPort: number, targetHost = '127.0.0.1', options: ProxyOptions = {}): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let silent = false;
  let delayMillis = 0;
  let accepted = 0;

  const forward = (from: net.Socket, to: net.Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (delayMillis === 0) {
        to.write(chunk);
        return;
      }
      // In order: each chunk waits behind the one before it.
      from.pause();
      setTimeout(() => {
        to.write(chunk);
        if (!silent) from.resume();
      }, delayMillis);
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };

  const server = net.createServer((client) => {
    accepted += 1;
    const connection = accepted;
    const tap = options.onClientChunk;
    if (tap !== undefined) client.on('data', (chunk: Buffer) => tap(connection, chunk));
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    forward(client, upstream);
    forward(upstream, client);
    if (silent) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    silence() {
      silent = true;
      for (const p of pairs) {
        p.client.pause();
        p.server.pause();
      }
    },
    restore() {
      silent = false;
      for (const p of pairs) {
        p.client.resume();
        p.server.resume();
      }
    },
    delay(ms: number) {
      delayMillis = ms;
    },
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
