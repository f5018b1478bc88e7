import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { DbRouterError } from '../errors.js';

/** The OS account servers run as. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  /** True when we run as root and must switch to this user for every server process. */
  switchTo: boolean;
}

const execFileAsync = promisify(execFile);

/** Default account for servers when dbrouter runs as root (PostgreSQL and MariaDB refuse root). */
export const DEFAULT_OS_USER = 'dbrouter';

/**
 * The account servers run as: ourselves when not root; otherwise `name` (env `DBROUTER_OS_USER`,
 * default `dbrouter`), created as a system user without login when missing.
 */
export async function resolveOsUser(name = process.env.DBROUTER_OS_USER ?? DEFAULT_OS_USER): Promise<OsUser> {
  const me = userInfo();
  if (me.uid !== 0) return { name: me.username, uid: me.uid, gid: me.gid, switchTo: false };
  let found = await lookup(name);
  if (!found) {
    try {
      await execFileAsync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
    } catch (e) {
      // Another process may have created it at the same moment; look again before failing.
      found = await lookup(name);
      if (!found) {
        throw new DbRouterError(
          'CONFIG_INVALID',
          `servers cannot run as root and the OS user '${name}' could not be created (useradd failed); ` +
            `create it yourself or set DBROUTER_OS_USER to an existing unprivileged user`,
          { cause: e },
        );
      }
    }
    found ??= await lookup(name);
  }
  if (!found) throw new DbRouterError('CONFIG_INVALID', `OS user '${name}' not found after creating it`);
  if (found.uid === 0) {
    throw new DbRouterError('CONFIG_INVALID', `DBROUTER_OS_USER '${name}' is root: servers need an unprivileged user`);
  }
  return { name, ...found, switchTo: true };
}

async function lookup(name: string): Promise<{ uid: number; gid: number } | null> {
  try {
    const { stdout } = await execFileAsync('id', ['-u', name]);
    const { stdout: gid } = await execFileAsync('id', ['-g', name]);
    return { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
  } catch {
    return null;
  }
}

/** Hands a path we created to the server account (a no-op when not root). */
export async function giveTo(path: string, user: OsUser): Promise<void> {
  if (user.switchTo) await chown(path, user.uid, user.gid);
}
