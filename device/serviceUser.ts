// Who the services run as, read from /etc/passwd and /etc/group (no getpwnam in Node), so that
// `check` run as root can say whether the `edgeship` user — not root — can write the model
// directory.
import { readFileSync } from 'node:fs';

export const SERVICE_USER = 'edgeship';

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  /** Primary and supplementary group ids. */
  groups: number[];
}

export function lookupUser(name: string, passwdFile = '/etc/passwd', groupFile = '/etc/group'): UnixUser | null {
  let passwd: string;
  try {
    passwd = readFileSync(passwdFile, 'utf8');
  } catch {
    return null;
  }
  const line = passwd.split('\n').find((l) => l.split(':')[0] === name);
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  const groups = new Set([Number(gid)]);
  try {
    for (const g of readFileSync(groupFile, 'utf8').split('\n')) {
      const [, , id, members] = g.split(':');
      if (members?.split(',').includes(name)) groups.add(Number(id));
    }
  } catch {
    // Primary group only.
  }
  return { name, uid: Number(uid), gid: Number(gid), groups: [...groups] };
}

/** Whether `user` may create and remove entries in a directory with this owner and mode (no ACLs). */
export function canWriteDir(user: UnixUser, st: { uid: number; gid: number; mode: number }): boolean {
  if (user.uid === 0) return true;
  const wx = (shift: number): boolean => ((st.mode >> shift) & 0o3) === 0o3;
  if (st.uid === user.uid) return wx(6);
  if (user.groups.includes(st.gid)) return wx(3);
  return wx(0);
}

/** Whether `user` may pass through (search) a directory. */
export function canSearchDir(user: UnixUser, st: { uid: number; gid: number; mode: number }): boolean {
  if (user.uid === 0) return true;
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (user.groups.includes(st.gid)) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}
