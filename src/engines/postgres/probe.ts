import { Socket } from 'node:net';
import type { Client, ClientConfig, QueryConfig } from 'pg';
import { holdsMore, lsnDistance, parseLsn, reached } from '../position-order.js';
import { DbRouterError } from '../../errors.js';
import { loadDriver } from '../driver.js';
import type { MonitoredNode, NodeProbe, ProbeResult, Prober } from '../probe.js';
import { endWithin } from '../bounds.js';

/**
 * Where the monitor connects for one node. A structural subset of the cluster's connection
 * options, so those can be passed as they are.
 */
export interface ProbeConnection {
  readonly host: string;
  readonly port: number;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly database?: string | undefined;
  readonly ssl?: boolean | Record<string, unknown> | undefined;
}

/**
 * Options of the PostgreSQL prober.
 *
 * @example
 *   postgresProber({ connections: { main: {...}, r1: {...} }, monitor: { user: 'dbrouter_monitor', password } })
 */
export interface PostgresProberOptions {
  /** Connection of each node, by alias. */
  readonly connections: Readonly<Record<string, ProbeConnection>>;
  /**
   * Credentials for the monitoring connections instead of the application's. The upstream of a
   * replica (`pg_stat_wal_receiver.sender_host/port`) is shown only to superusers and members of
   * `pg_read_all_stats`; everything else works for any user.
   */
  readonly monitor?: { readonly user: string; readonly password?: string };
  /** Give up connecting after this long. Default 1000. */
  readonly connectTimeoutMillis?: number;
  /** Give up on the check's query after this long. Default 1000. */
  readonly queryTimeoutMillis?: number;
}

// One round trip. CASE keeps the functions that fail on the other role from running
// (pg_current_wal_lsn() on a standby, pg_get_wal_replay_pause_state() on a primary).
const CHECK_SQL = `SELECT r.recovery,
  CASE WHEN r.recovery THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN r.recovery THEN (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 END AS since_replay_ms,
  CASE WHEN r.recovery THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END AS pause_state,
  w.sender_host, w.sender_port, w.pid AS receiver_pid, w.status AS receiver_status
FROM (SELECT pg_is_in_recovery() AS recovery) r LEFT JOIN pg_stat_wal_receiver w ON true`;

/** @internal */
export interface CheckRow {
  recovery: boolean;
  current_lsn: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  since_replay_ms: number | null;
  pause_state: string;
  sender_host: string | null;
  sender_port: number | null;
  /** The WAL receiver's process, NULL when none runs (visible to every user). */
  receiver_pid: number | null;
  /** Its state (`streaming`, `waiting`, …); NULL without `pg_read_all_stats`. */
  receiver_status: string | null;
}

/**
 * The PostgreSQL side of the health monitor: `pg_is_in_recovery()` for the role, WAL LSNs for
 * positions, `pg_last_xact_replay_timestamp()` for the time lag, `pg_stat_wal_receiver` for the
 * upstream.
 *
 * @example
 *   const monitor = new HealthMonitor({ nodes, prober: postgresProber({ connections }) })
 */
export function postgresProber(options: PostgresProberOptions): Prober {
  // A missing driver is DRIVER_MISSING now, not a failed check that marks every node down.
  loadPg();
  return {
    positionUnit: 'bytes',
    forNode(node: MonitoredNode): NodeProbe {
      const connection = options.connections[node.alias];
      if (!connection) throw new DbRouterError('UNKNOWN_ALIAS', `No connection is configured for node "${node.alias}".`);
      return new PostgresProbe(connection, options);
    },
    reached: (have, want) => reached('postgres', have, want),
    distance: (have, want) => lsnDistance(have, want),
    holdsMore: (replica, primary) => holdsMore('postgres', replica, primary),
  };
}

/**
 * One node's dedicated monitoring connection (a `pg.Client`, never from the application's pool),
 * opened on the first check and again after any failure.
 */
export class PostgresProbe implements NodeProbe {
  readonly #config: ClientConfig;
  readonly #queryTimeout: number;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #pending: Client | undefined;

  constructor(connection: ProbeConnection, options: Omit<PostgresProberOptions, 'connections'> = {}) {
    const config: ClientConfig = {
      host: connection.host,
      port: connection.port,
      user: options.monitor?.user ?? connection.user,
      database: connection.database,
      application_name: 'dbrouter-monitor',
      connectionTimeoutMillis: options.connectTimeoutMillis ?? 1000,
      // A background check never keeps a process alive: a script that is done exits.
      stream: unrefSocket,
      ...(connection.ssl !== undefined ? { ssl: connection.ssl } : {}),
    };
    const password = options.monitor ? options.monitor.password : connection.password;
    if (password !== undefined) Object.defineProperty(config, 'password', { value: password, enumerable: false });
    this.#config = config;
    this.#queryTimeout = options.queryTimeoutMillis ?? 1000;
  }

  async check(signal: AbortSignal): Promise<ProbeResult> {
    const drop = () => this.#drop();
    signal.addEventListener('abort', drop, { once: true });
    try {
      const client = await this.#connect();
      if (signal.aborted) throw new DbRouterError('NODE_DOWN', 'The check was abandoned.');
      const started = performance.now();
      const query: QueryConfig & { query_timeout: number } = { text: CHECK_SQL, query_timeout: this.#queryTimeout };
      const { rows } = await client.query<CheckRow>(query);
      const rttMillis = performance.now() - started;
      const row = rows[0];
      if (!row) throw new DbRouterError('NODE_DOWN', 'The health check query returned no row.');
      return postgresProbeResult(row, rttMillis);
    } catch (e) {
      this.#drop();
      throw e;
    } finally {
      signal.removeEventListener('abort', drop);
    }
  }

  /** Closes the connection politely, within the query bound; past it the socket is destroyed. */
  close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#connecting = undefined;
    if (!client) return Promise.resolve();
    return endWithin(() => client.end(), this.#queryTimeout, () => streamOf(client)?.destroy()).catch(() => undefined);
  }

  #connect(): Promise<Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const { Client: PgClient } = loadPg();
      const client = new PgClient(this.#config);
      // A monitoring connection that breaks is simply opened again at the next check.
      client.on('error', () => this.#forget(client));
      client.on('end', () => this.#forget(client));
      this.#pending = client;
      try {
        await client.connect();
      } finally {
        this.#pending = undefined;
      }
      this.#client = client;
      return client;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #forget(client: Client): void {
    if (this.#client === client) this.#client = undefined;
  }

  // Destroy the socket rather than end(): end() waits for a server that may never answer.
  #drop(): void {
    for (const client of [this.#client, this.#pending]) {
      if (!client) continue;
      streamOf(client)?.destroy();
    }
    this.#client = undefined;
  }
}

function unrefSocket(): Socket {
  const socket = new Socket();
  socket.unref();
  return socket;
}

function streamOf(client: Client): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}

/** @internal What the check's row means (exported for unit tests). */
export function postgresProbeResult(row: CheckRow, rttMillis: number): ProbeResult {
  const upstream = row.sender_host ? `${row.sender_host}:${row.sender_port ?? ''}` : undefined;
  if (!row.recovery) {
    const lsn = row.current_lsn ?? undefined;
    return { role: 'primary', position: lsn, replayPosition: lsn, lagMillis: 0, lagBytes: 0, upstream: undefined, paused: false, rttMillis };
  }
  const receive = row.receive_lsn ?? undefined;
  const replay = row.replay_lsn ?? undefined;
  // Everything received is applied: the replica is as current as its stream. Otherwise its gap is
  // at most as old as the last transaction it applied (unknown if none applied since start): an
  // upper bound, far too high on a quiet primary, which the monitor uses only for a gap older than
  // the primary positions it has seen (it dates the others itself).
  const applied = receive === undefined || replay === undefined ? undefined : (parseLsn(replay) ?? -1n) >= (parseLsn(receive) ?? 0n);
  const lagMillis = applied === true ? 0 : row.since_replay_ms === null ? undefined : Math.max(0, row.since_replay_ms);
  // A standby that streams from no one is current with nothing: "everything received is applied"
  // says nothing then, and its LSNs may be on a history the primary does not share (a former
  // primary demoted before it was rewound, a replica its new primary refuses). The monitor takes it
  // out of the reads while there is a primary it could stream from.
  const stopped = row.receiver_pid === null
    ? 'no WAL receiver runs (it streams from no primary; a former primary not yet rewound, or a history the primary refuses)'
    : row.receiver_status !== null && row.receiver_status !== 'streaming'
      ? `its WAL receiver is ${row.receiver_status}, not streaming`
      : undefined;
  return {
    role: 'replica',
    position: receive ?? replay,
    replayPosition: replay,
    lagMillis,
    lagBytes: receive !== undefined && replay !== undefined ? lsnDistance(replay, receive) : undefined,
    upstream,
    paused: row.pause_state !== 'not paused',
    rttMillis,
    ...(stopped !== undefined ? { notStreaming: stopped } : {}),
  };
}

function loadPg(): { Client: new (config: ClientConfig) => Client } {
  return loadDriver<{ Client: new (config: ClientConfig) => Client }>('pg');
}
