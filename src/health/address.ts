/**
 * Compares two `host:port` addresses the way replication configurations write them: `localhost`,
 * `127.0.0.1`, `::1` and a unix socket directory all mean "this machine".
 *
 * @example
 *   sameAddress('localhost:5432', '127.0.0.1:5432') // true
 *   sameAddress('10.0.0.5:5432', '10.0.0.6:5432')   // false
 */
export function sameAddress(a: string, b: string): boolean {
  const x = split(a);
  const y = split(b);
  return x.port === y.port && x.host === y.host;
}

function split(address: string): { host: string; port: string } {
  const i = address.lastIndexOf(':');
  const rawHost = (i < 0 ? address : address.slice(0, i)).replace(/^\[|\]$/g, '').toLowerCase();
  const port = i < 0 ? '' : address.slice(i + 1);
  return { host: isLocal(rawHost) ? 'local' : rawHost, port };
}

function isLocal(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('/') || host === '';
}
