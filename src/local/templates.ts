import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { giveTo, type OsUser } from './os-user.js';
import { run } from './processes.js';

/** tmpfs when the machine has one (copies and fsync-free writes are much faster there), else the temp dir. */
export function fastScratchRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * A folder name under the scratch root, one per OS user: root's folders are not writable by
 * others, and sharing one between users would mix owners.
 */
export function perUserName(base: string): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? base : `${base}-${uid}`;
}

export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);
}

/**
 * A data directory initialised once per machine and key, then cloned for every node. Built in a
 * private temp dir and published with one atomic rename, so concurrent builders never see a
 * half-built template: the loser of the rename throws its copy away (a lock with no stale state).
 */
export async function ensureTemplate(
  key: string,
  user: OsUser,
  build: (dir: string) => Promise<void>,
): Promise<string> {
  const root = path.join(fastScratchRoot(), perUserName('dbrouter-templates'));
  const target = path.join(root, key);
  if (existsSync(path.join(target, '.complete'))) return target;
  await mkdir(root, { recursive: true });
  await chmod(root, 0o755).catch(() => {});
  const temp = `${target}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(temp, { mode: 0o700 });
  await giveTo(temp, user);
  try {
    await build(temp);
    await run('touch', [path.join(temp, '.complete')], { user });
    try {
      await rename(temp, target);
    } catch (e) {
      if (!existsSync(path.join(target, '.complete'))) throw e;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return target;
}

/** `cp -a` of a template (keeps owner and modes); the `.complete` marker is dropped from the copy. */
export async function cloneTemplate(template: string, destination: string): Promise<void> {
  await run('cp', ['-a', template, destination]);
  await rm(path.join(destination, '.complete'), { force: true });
}
