/**
 * Counts the commands clients send a MySQL/MariaDB server (a statement, a prepare, an execute, a
 * ping: each starts a new exchange, a packet with sequence number 0), from the bytes a
 * {@link startProxy} in front of the server sees: what the server was asked, not what a client
 * says it asked. The handshake's packets are not commands (their sequence numbers start at 1).
 *
 *   const commands = mysqlCommandCounter();
 *   const proxy = await startProxy(port, '127.0.0.1', { onClientChunk: commands.tap });
 *   ...; commands.count // statements the server received since the last reset()
 */
import { startProxy, type TcpProxy } from './tcp-proxy.js';

export interface MysqlCommandCounter {
  /** Feed for {@link ProxyOptions.onClientChunk}. */
  readonly tap: (connection: number, chunk: Buffer) => void;
  /** Commands seen since the start or the last `reset()`. */
  readonly count: number;
  /** The first bytes of each command's text (COM_QUERY) since the last reset, for a failing assertion's message. */
  readonly texts: readonly string[];
  reset(): void;
}

const COM_QUERY = 0x03;

export function mysqlCommandCounter(): MysqlCommandCounter {
  // Per connection: bytes of a packet not yet complete.
  const pending = new Map<number, Buffer>();
  let count = 0;
  let texts: string[] = [];
  return {
    tap: (connection, chunk) => {
      let buf = Buffer.concat([pending.get(connection) ?? Buffer.alloc(0), chunk]);
      while (buf.length >= 4) {
        const length = buf.readUIntLE(0, 3);
        if (buf.length < 4 + length) break;
        if (buf[3] === 0 && length > 0) {
          count += 1;
          if (buf[4] === COM_QUERY) texts.push(buf.subarray(5, Math.min(4 + length, 85)).toString('utf8'));
        }
        buf = buf.subarray(4 + length);
      }
      pending.set(connection, buf);
    },
    get count() {
      return count;
    },
    get texts() {
      return texts;
    },
    reset() {
      count = 0;
      texts = [];
    },
  };
}

/** A proxy to `port` on 127.0.0.1 that counts the commands sent through it. */
export async function countingProxy(port: number): Promise<{ proxy: TcpProxy; commands: MysqlCommandCounter }> {
  const commands = mysqlCommandCounter();
  const proxy = await startProxy(port, '127.0.0.1', { onClientChunk: commands.tap });
  return { proxy, commands };
}
