import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import { Kysely, MysqlDialect, PostgresDialect, type Generated } from 'kysely';
import type { Cluster } from '../cluster/cluster.js';
import { createMysqlPool } from '../engines/mysql/routed-pool.js';
import { createPgPool } from '../engines/postgres/routed-pool.js';

/** The demo's schema, as Kysely sees it. */
export interface NotesDatabase {
  notes: { id: Generated<number>; author: string; body: string; created_at: Generated<Date> };
}

/** The guestbook app and what it holds: `db.destroy()` ends the routed pool. */
export interface DemoApp {
  readonly app: Express;
  readonly db: Kysely<NotesDatabase>;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => escapes[c]!);

/** Creates the notes table on the primary (through the routed pool: DDL is a write). */
export async function migrate(db: Kysely<NotesDatabase>, engine: 'postgres' | 'mysql'): Promise<void> {
  await db.schema
    .createTable('notes')
    .ifNotExists()
    .addColumn('id', engine === 'postgres' ? 'serial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('author', 'varchar(80)', (c) => c.notNull())
    .addColumn('body', 'varchar(500)', (c) => c.notNull())
    .addColumn('created_at', engine === 'postgres' ? 'timestamptz' : 'timestamp(3)', (c) => c.notNull().defaultTo(db.fn('now', [])))
    .execute();
}

function page(notes: readonly { id: number; author: string; body: string; created_at: Date | string }[], total: number, flash: string | undefined, dashboardUrl: string | undefined): string {
  const items = notes
    .map((n) => `<li data-note-id="${n.id}"><b>${esc(n.author)}</b> <span class="when">#${n.id} · ${esc(new Date(n.created_at).toLocaleTimeString('en-GB'))}</span><p>${esc(n.body)}</p></li>`)
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dbrouter demo guestbook</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:720px;margin:24px auto;padding:0 16px;color:#1d2330}
form{display:grid;gap:8px;background:#f6f7f9;padding:14px;border-radius:8px;border:1px solid #e2e5eb}
input,textarea,button{font:inherit;padding:6px 8px;border:1px solid #c9ced8;border-radius:4px}button{background:#3558d4;color:#fff;border:0;cursor:pointer;justify-self:start;padding:6px 16px}
ul{list-style:none;padding:0}li{border-bottom:1px solid #e2e5eb;padding:8px 0}li p{margin:4px 0 0}.when{color:#6b7385;font-size:12px}
.flash{background:#e6f6ec;border:1px solid #b5e2c5;padding:8px 12px;border-radius:6px}</style></head>
<body><h1>Guestbook</h1>
<p>Every read below came from a replica unless you just wrote; every write went to the primary.${dashboardUrl ? ` Watch it on the <a href="${esc(dashboardUrl)}">dashboard</a>.` : ''}</p>
${flash ? `<p class="flash" id="flash">${esc(flash)}</p>` : ''}
<form method="post" action="/notes"><input name="author" placeholder="your name" maxlength="80" required>
<textarea name="body" placeholder="say something" maxlength="500" required></textarea><button type="submit">Sign the guestbook</button></form>
<p id="count">${total} notes</p><ul id="notes">${items}</ul></body></html>`;
}

/**
 * The demo's guestbook: Express + Kysely over dbrouter's routed pool. Reads (the list, the count)
 * go to replicas, the insert to the primary; a form POSTs then redirects to a GET, the pattern
 * where a stale replica would hide what you just wrote — unless `readYourWrites` is in front.
 *
 * @example
 *   const { app, db } = createDemoApp({ cluster, readYourWrites: expressConsistency({ cluster, development: true }) });
 *   app.listen(3000);
 */
export function createDemoApp(options: {
  cluster: Cluster;
  readYourWrites: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  dashboardUrl?: string;
  /** One line per failed request. */
  onError?: (line: string) => void;
}): DemoApp {
  const { cluster } = options;
  const dialect = cluster.engine === 'postgres' ? new PostgresDialect({ pool: createPgPool(cluster) }) : new MysqlDialect({ pool: createMysqlPool(cluster) });
  const db = new Kysely<NotesDatabase>({ dialect });
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false, limit: '8kb' }));
  app.use(options.readYourWrites);

  app.get('/', async (req, res) => {
    const [notes, count] = await Promise.all([
      db.selectFrom('notes').select(['id', 'author', 'body', 'created_at']).orderBy('id', 'desc').limit(30).execute(),
      db.selectFrom('notes').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirst(),
    ]);
    const flash = typeof req.query.added === 'string' ? `Note #${req.query.added} added.` : undefined;
    res.type('html').send(page(notes, Number(count?.n ?? 0), flash, options.dashboardUrl));
  });

  app.get('/notes/:id.json', async (req, res) => {
    const note = await db.selectFrom('notes').selectAll().where('id', '=', Number(req.params.id)).executeTakeFirst();
    if (!note) res.status(404).json({ error: 'no such note (yet?)' });
    else res.json(note);
  });

  app.post('/notes', async (req, res) => {
    const body = req.body as { author?: unknown; body?: unknown };
    const author = typeof body.author === 'string' ? body.author.trim().slice(0, 80) : '';
    const text = typeof body.body === 'string' ? body.body.trim().slice(0, 500) : '';
    if (!author || !text) {
      res.status(400).type('text').send('author and body are required');
      return;
    }
    let id: number;
    if (cluster.engine === 'postgres') {
      id = (await db.insertInto('notes').values({ author, body: text }).returning('id').executeTakeFirstOrThrow()).id;
    } else {
      id = Number((await db.insertInto('notes').values({ author, body: text }).executeTakeFirstOrThrow()).insertId);
    }
    res.redirect(303, `/?added=${id}`);
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  // During a failover a write can fail (it was in flight on the killed primary, or no primary came
  // within failoverTimeoutMillis): one line, not a stack trace, and a 503 the visitor can retry.
  app.use(function demoErrors(err: unknown, req: express.Request, res: express.Response, next: express.NextFunction) {
    if (res.headersSent) return next(err);
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    options.onError?.(`${req.method} ${req.path} failed: ${message}`);
    res.status(503).type('text').send(`The database did not answer this time (${message}). Try again.`);
  });
  return { app, db };
}
