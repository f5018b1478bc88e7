import { checkBoolean, checkChoice, checkFunction, checkMillis, checkObject, checkOptions, checkSecret, checkString, invalidConfig } from '../options.js';

// Checks the options of the HTTP integrations and the session store when they are made, so a
// mistake fails at start-up naming the key (CONFIG_INVALID) rather than in the first request.

const HTTP_KEYS = ['cluster', 'secret', 'development', 'cookieName', 'headerName', 'cookie', 'maxAgeMillis', 'safeMethods', 'unsafeMethods', 'route'];
// Fastify hands its registration options to the plugin along with ours.
const FASTIFY_KEYS = ['prefix', 'logLevel', 'logSerializers'];
const COOKIE_KEYS = ['secure', 'domain', 'path', 'sameSite'];
// RFC 7230 token characters: what a header name and a cookie name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Checks the options of `expressConsistency` and its siblings (`where` names the factory). */
export function checkHttpOptions(options: unknown, where: string): void {
  const known = where === 'fastifyConsistency' ? [...HTTP_KEYS, ...FASTIFY_KEYS] : HTTP_KEYS;
  const o = checkOptions(`${where}() options`, options, known, `{ cluster, secret: process.env.DBROUTER_SECRET }`);
  checkSecret(`${where}() secret`, o.secret);
  checkBoolean(`${where}() development`, o.development);
  for (const k of ['cookieName', 'headerName']) {
    const v = checkString(`${where}() ${k}`, o[k], k === 'cookieName' ? "'dbrouter_ryw'" : "'X-DBRouter-Token'");
    if (v !== undefined && !TOKEN.test(v)) throw invalidConfig(`${where}() ${k} may hold only letters, digits and !#$%&'*+-.^_\`|~, such as ${k === 'cookieName' ? "'dbrouter_ryw'" : "'X-DBRouter-Token'"}.`);
  }
  if (o.cookie !== undefined && o.cookie !== false) {
    const c = checkOptions(`${where}() cookie`, o.cookie, COOKIE_KEYS, "{ secure: true } (or false for header only)");
    checkBoolean(`${where}() cookie.secure`, c.secure);
    checkString(`${where}() cookie.domain`, c.domain, "'example.com'");
    checkString(`${where}() cookie.path`, c.path, "'/'");
    checkChoice(`${where}() cookie.sameSite`, c.sameSite, ['lax', 'strict', 'none']);
  }
  checkMillis(`${where}() maxAgeMillis`, o.maxAgeMillis, 1000);
  checkFunction(`${where}() route`, o.route, "({ method, path }) => (path.startsWith('/admin') ? 'strong' : undefined)");
}

/** Checks `createSessionStore()` options. */
export function checkSessionStoreOptions(options: unknown): void {
  const o = checkOptions('createSessionStore() options', options, ['cluster', 'Store', 'table', 'ttlMillis'], '{ cluster, Store: session.Store }');
  if (o.cluster === undefined) throw invalidConfig('createSessionStore() needs the cluster: createSessionStore({ cluster, Store: session.Store }).');
  checkObject('createSessionStore() cluster', o.cluster, 'createCluster({ databases })');
  checkFunction('createSessionStore() Store', o.Store, 'session.Store (from express-session)');
  checkString('createSessionStore() table', o.table, "'dbrouter_sessions'");
  checkMillis('createSessionStore() ttlMillis', o.ttlMillis, 1);
}
