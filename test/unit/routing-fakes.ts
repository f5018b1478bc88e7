// Fake pg and mysql2 pools for unit tests: each records which alias ran each statement, and a
// fake replica refuses writes the way a real read-only server does.
import { EventEmitter } from 'node:events';
import type { PoolConfig, QueryResult } from 'pg';
import type { PoolOptions } from 'mysql2';
import { createCluster } from '../../src/index.js';
import type { ClusterConfig } from '../../src/index.js';

export interface Ran {
  alias: string;
  sql: string;
  values: unknown;
  via: 'pool' | 'client';
}

// A real replica takes session settings (`SET search_path`); it refuses writes and DDL.
const WRITE = /^\s*(insert|update|delete|create|drop|alter|truncate)/i;

export class FakeNet {
  ran: Ran[] = [];
  /** Aliases that refuse writes (replicas), as the real servers do. */
  readOnly = new Set<string>();
  released = 0;
  destroyed = 0;
  acquired = 0;
  where(sql: string): string[] {
    return this.ran.filter((r) => r.sql === sql).map((r) => r.alias);
  }
  last(): Ran {
    return this.ran[this.ran.length - 1]!;
  }
  run(alias: string, sql: string, values: unknown, via: Ran['via']): void {
    if (/syntax error here/.test(sql)) {
      throw Object.assign(new Error('syntax error at or near "here"'), { code: '42601', errno: 1064 });
    }
    if (this.readOnly.has(alias) && (WRITE.test(sql) || /write_fn/.test(sql))) {
      throw Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006', errno: 1290 });
    }
    this.ran.push({ alias, sql, values, via });
  }
}

function textOf(q: unknown): string {
  return typeof q === 'string' ? q : ((q as { text?: string; sql?: string }).text ?? (q as { sql: string }).sql);
}

export class FakePgClient extends EventEmitter {
  constructor(readonly net: FakeNet, readonly alias: string) {
    super();
  }
  query(text: unknown, values?: unknown): Promise<QueryResult> {
    try {
      this.net.run(this.alias, textOf(text), values, 'client');
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve({ rows: [{ alias: this.alias }], command: 'SELECT', rowCount: 1, oid: 0, fields: [] });
  }
  release(err?: unknown): void {
    if (err) this.net.destroyed++;
    this.net.released++;
  }
}

export class FakePgPool extends EventEmitter {
  totalCount = 1;
  idleCount = 1;
  waitingCount = 0;
  ended = false;
  constructor(readonly net: FakeNet, readonly alias: string, readonly config: PoolConfig) {
    super();
  }
  query(text: unknown, values?: unknown): Promise<QueryResult> {
    try {
      this.net.run(this.alias, textOf(text), values, 'pool');
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve({ rows: [{ alias: this.alias }], command: 'SELECT', rowCount: 1, oid: 0, fields: [] });
  }
  connect(): Promise<FakePgClient> {
    this.net.acquired++;
    return Promise.resolve(new FakePgClient(this.net, this.alias));
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
}

export class FakeMysqlConnection {
  readonly connection = new EventEmitter();
  constructor(readonly net: FakeNet, readonly alias: string) {}
  query(sql: unknown, values?: unknown): Promise<[unknown, unknown]> {
    try {
      this.net.run(this.alias, textOf(sql), values, 'client');
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve([[{ alias: this.alias }], []]);
  }
  execute(sql: unknown, values?: unknown): Promise<[unknown, unknown]> {
    return this.query(sql, values);
  }
  release(): void {
    this.net.released++;
  }
  destroy(): void {
    this.net.destroyed++;
  }
}

export class FakeMysqlPool {
  readonly pool = new EventEmitter();
  ended = false;
  constructor(readonly net: FakeNet, readonly alias: string, readonly config: PoolOptions) {}
  query(sql: unknown, values?: unknown): Promise<[unknown, unknown]> {
    try {
      this.net.run(this.alias, textOf(sql), values, 'pool');
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return Promise.resolve([[{ alias: this.alias }], []]);
  }
  execute(sql: unknown, values?: unknown): Promise<[unknown, unknown]> {
    return this.query(sql, values);
  }
  getConnection(): Promise<FakeMysqlConnection> {
    this.net.acquired++;
    return Promise.resolve(new FakeMysqlConnection(this.net, this.alias));
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
}

/** A cluster of one primary (`default`) and `replicas` replicas (`replica1`…), roles given. */
export function fakeCluster(engine: 'postgres' | 'mysql', replicas = 2, extra: Partial<ClusterConfig> = {}) {
  const scheme = engine === 'postgres' ? 'postgres' : 'mysql';
  const databases: Record<string, ClusterConfig['databases'][string]> = {
    default: { url: `${scheme}://app:s3cret-pw@primary.test:5000/app`, role: 'primary' },
  };
  for (let i = 1; i <= replicas; i++) databases[`replica${i}`] = { host: `replica${i}.test`, role: 'replica' };
  const net = new FakeNet();
  for (let i = 1; i <= replicas; i++) net.readOnly.add(`replica${i}`);
  // These tests are about where statements go, not read-your-writes: replicas serve reads after writes.
  const cluster = createCluster({ databases, consistency: 'eventual', health: false, ...extra });
  return { cluster, net };
}
