import { checkObject, invalidConfig, shown } from '../options.js';
import type { MigrateContext, RouteContext, Router } from './router.js';

/** A router that also says which alias a table lives in. */
export interface TableRouter extends Router {
  /**
   * The alias `table` lives in: an exact name (case-insensitive, with or without its schema) first,
   * else the longest prefix ending in `_` that matches; `undefined` when the map names neither.
   */
  aliasFor(table: string): string | undefined;
}

/**
 * Routes by table, as Django's per-app routers: keys are table names, or prefixes ending in `_`
 * (`audit_` matches `audit_log`); the longest match wins. Reads and writes of a statement whose
 * tables all live in one alias go there; statements on other tables are left to the next router.
 * `allowRelation` refuses one statement that joins tables living in two aliases, and
 * `allowMigrate` says yes only to aliases named here (and to the default primary).
 *
 * @example
 *   createCluster({ databases, routers: [byTable({ audit_: 'logs', users: 'default' }), primaryReplica()] })
 */
export function byTable(map: Readonly<Record<string, string>>): TableRouter {
  checkObject('byTable() map', map, "{ audit_: 'logs', users: 'default' }");
  for (const [key, alias] of Object.entries(map)) {
    if (key === '') throw invalidConfig(`byTable() map has an empty table name; write a table name or a prefix ending in _ such as { audit_: 'logs' }.`);
    if (typeof alias !== 'string' || alias === '') throw invalidConfig(`byTable() map.${key} must name an alias such as 'logs', not ${shown(alias)}.`);
  }
  const exact = new Map<string, string>();
  const prefixes: [string, string][] = [];
  for (const [key, alias] of Object.entries(map)) {
    const k = key.toLowerCase();
    if (k.endsWith('_')) prefixes.push([k, alias]);
    else exact.set(k, alias);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const targets = new Set(Object.values(map));

  function aliasFor(table: string): string | undefined {
    const t = table.toLowerCase();
    const dot = t.lastIndexOf('.');
    const bare = dot >= 0 ? t.slice(dot + 1) : t;
    const hit = exact.get(t) ?? exact.get(bare);
    if (hit !== undefined) return hit;
    for (const [p, alias] of prefixes) if (bare.startsWith(p)) return alias;
    return undefined;
  }

  function home(ctx: RouteContext): string | undefined {
    let found: string | undefined;
    for (const t of ctx.tables) {
      const a = aliasFor(t);
      if (a === undefined) continue;
      if (found !== undefined && found !== a) return undefined;
      found = a;
    }
    return found;
  }

  return {
    name: 'byTable',
    aliasFor,
    dbForRead: home,
    dbForWrite: home,
    allowRelation(a: string, b: string, ctx: RouteContext): boolean | undefined {
      const x = aliasFor(a);
      const y = aliasFor(b);
      if (x === undefined && y === undefined) return undefined;
      // A table named nowhere here lives with the primary.
      const p = ctx.cluster.primary.alias;
      return (x ?? p) === (y ?? p);
    },
    allowMigrate(alias: string, ctx: MigrateContext): boolean | undefined {
      if (targets.has(alias)) return true;
      return alias === ctx.cluster.primary.alias ? true : undefined;
    },
  };
}
