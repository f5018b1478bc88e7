/**
 * What a failover tool asks the servers of a local cluster, for the chaos test and the failover
 * bench: which replica has received the most of the primary's history (the one to promote), and,
 * on MariaDB, a way to make a replica diverge.
 *
 *   const { alias } = await mostAdvancedReplica(local);
 *   await local.promote(alias);
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { LocalCluster } from '../../src/local/index.js';

/** `Name CODE: first line of the message`, for summaries. */
export function describeError(e: unknown): string {
  const err = e as { name?: string; message?: string; code?: unknown } | null;
  const code = typeof err?.code === 'string' ? ` ${err.code}` : '';
  return `${err?.name ?? 'Error'}${code}: ${String(err?.message ?? e).split('\n')[0]}`;
}

function socketDir(local: LocalCluster): string {
  return (JSON.parse(readFileSync(path.join(local.dir, 'state.json'), 'utf8')) as { socketDir: string }).socketDir;
}

/** MariaDB admin (root over the node's unix socket, as the local cluster itself connects). */
async function mariadbAdmin(local: LocalCluster, alias: string): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    socketPath: path.join(socketDir(local), `${alias}.sock`),
    user: userInfo().uid === 0 ? 'root' : userInfo().username,
    connectTimeout: 2000,
  });
  conn.on('error', () => undefined);
  return conn;
}

function lsn(text: string | null | undefined): bigint {
  if (!text) return -1n;
  const [high, low] = text.split('/');
  return (BigInt(`0x${high ?? '0'}`) << 32n) + BigInt(`0x${low ?? '0'}`);
}

/** Sum over GTID domains of the highest sequence number in each (our clusters use one domain). */
function gtidRank(list: string): bigint {
  const best = new Map<string, bigint>();
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [domain, , seq] = part.split('-');
    if (domain === undefined || seq === undefined) continue;
    const n = BigInt(seq);
    if (n > (best.get(domain) ?? -1n)) best.set(domain, n);
  }
  let sum = 0n;
  for (const n of best.values()) sum += n;
  return sum;
}

/**
 * The running replica that has received the most of the old primary's history, as a failover tool
 * picks it: PostgreSQL `pg_last_wal_receive_lsn()` (or the replay position when larger); MariaDB the
 * IO thread's `Gtid_IO_Pos` (or `gtid_slave_pos`). Replicas that cannot be asked are skipped.
 */
export async function mostAdvancedReplica(local: LocalCluster): Promise<{ alias: string; positions: Record<string, string> }> {
  const positions: Record<string, string> = {};
  let best: { alias: string; rank: bigint } | undefined;
  const up = new Set((await local.status()).filter((n) => n.up && n.role === 'replica').map((n) => n.alias));
  for (const alias of local.replicaAliases.filter((a) => up.has(a))) {
    try {
      let rank: bigint;
      if (local.engine === 'postgres') {
        const client = new pg.Client({ connectionString: local.databases[alias]!.url, connectionTimeoutMillis: 2000 });
        client.on('error', () => undefined);
        await client.connect();
        try {
          const { rows } = await client.query<{ r: string | null; p: string | null }>(
            'SELECT pg_last_wal_receive_lsn()::text AS r, pg_last_wal_replay_lsn()::text AS p',
          );
          const r = lsn(rows[0]?.r);
          const p = lsn(rows[0]?.p);
          rank = r > p ? r : p;
          positions[alias] = `received ${rows[0]?.r ?? '-'} replayed ${rows[0]?.p ?? '-'}`;
        } finally {
          await client.end().catch(() => undefined);
        }
      } else {
        const conn = await mariadbAdmin(local, alias);
        try {
          const [status] = await conn.query('SHOW SLAVE STATUS');
          const io = String((status as { Gtid_IO_Pos?: string }[])[0]?.Gtid_IO_Pos ?? '');
          const [rows] = await conn.query('SELECT @@gtid_slave_pos AS pos');
          const applied = String((rows as { pos: string }[])[0]?.pos ?? '');
          const a = gtidRank(io);
          const b = gtidRank(applied);
          rank = a > b ? a : b;
          positions[alias] = `io ${io || '-'} applied ${applied || '-'}`;
        } finally {
          await conn.end().catch(() => undefined);
        }
      }
      if (!best || rank > best.rank) best = { alias, rank };
    } catch (e) {
      positions[alias] = `unreachable (${describeError(e)})`;
    }
  }
  if (!best) throw new Error(`no replica could be asked for its position: ${JSON.stringify(positions)}`);
  return { alias: best.alias, positions };
}

/**
 * MariaDB: makes `alias` diverge from its primary: its replica position is set to a sequence number
 * the primary never had, so its IO thread stops (error 1236) while its position looks ahead of
 * everything. Returns the position it was given.
 */
export async function divergeMariadbReplica(local: LocalCluster, alias: string): Promise<string> {
  const conn = await mariadbAdmin(local, alias);
  try {
    const [rows] = await conn.query('SELECT @@gtid_slave_pos AS pos, @@gtid_binlog_pos AS bin');
    const row = (rows as { pos: string; bin: string }[])[0]!;
    const current = String(row.pos || row.bin || '0-1-0').split(',')[0]!;
    const [domain = '0', server = '1', seq = '0'] = current.split('-');
    const ahead = `${domain}-${server}-${BigInt(seq) + 100_000n}`;
    await conn.query('STOP SLAVE');
    await conn.query('SET GLOBAL gtid_slave_pos = ?', [ahead]);
    await conn.query('START SLAVE');
    return ahead;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

