import { appendFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { launchHttpDaemon } from './process';

/** Collections whose name starts with this are read-only for their owner (Radicale rights file). */
export const READ_ONLY_PREFIX = 'readonly-';

export interface CollectionProps {
  name: string;
  color?: string;
  /** Component types, e.g. ['VEVENT'] or ['VTODO']. */
  components: string[];
}

/** A real Radicale 3 server with htpasswd auth on a free loopback port. */
export interface RadicaleServer {
  url: string;
  /** Its folder: `config`, `users`, `rights` and the `collections` storage (more servers may share that storage). */
  dir: string;
  addUser(user: string, password: string): void;
  /**
   * Creates a calendar collection on disk, as an administrator would (e.g. a read-only shared one), with
   * `objects` (file name -> iCalendar) in it: thousands load in a moment, where PUTs take minutes. Returns its path.
   */
  createCollectionOnDisk(user: string, slug: string, props: CollectionProps, objects?: Record<string, string>): string;
  /**
   * Copies a collection of one user to another on disk, with what Radicale has indexed of it: a collection
   * read once (indexed) is served to the copy's owner at once. Returns the copy's path.
   */
  copyCollectionOnDisk(fromUser: string, toUser: string, slug: string): string;
  stop(): Promise<void>;
}

const RIGHTS = `
[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[readonly]
user: .+
collection: {user}/${READ_ONLY_PREFIX}[^/]*
permissions: r

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
`;

/** Starts `/usr/bin/radicale`; throws with its output when it is missing or does not come up. */
export async function startRadicale(): Promise<RadicaleServer> {
  const dir = mkdtempSync(join(tmpdir(), 'radicale-'));
  const port = await freePort();
  const users = join(dir, 'users');
  writeFileSync(users, '');
  writeFileSync(join(dir, 'rights'), RIGHTS);
  writeFileSync(
    join(dir, 'config'),
    `[server]\nhosts = 127.0.0.1:${port}\n[auth]\ntype = htpasswd\nhtpasswd_filename = ${users}\nhtpasswd_encryption = plain\ndelay = 0\n` +
      `[rights]\ntype = from_file\nfile = ${join(dir, 'rights')}\n[storage]\nfilesystem_folder = ${join(dir, 'collections')}\n` +
      `[logging]\nlevel = warning\n`,
  );
  const { url, stop } = await launchHttpDaemon('Radicale', 'radicale', '/usr/bin/radicale', ['-C', join(dir, 'config')], `http://127.0.0.1:${port}`, dir);
  return {
    url,
    dir,
    stop,
    addUser: (user, password) => appendFileSync(users, `${user}:${password}\n`),
    createCollectionOnDisk: (user, slug, props, objects = {}) => {
      const folder = join(dir, 'collections', 'collection-root', user, slug);
      mkdirSync(folder, { recursive: true });
      const radicaleProps: Record<string, string> = {
        tag: 'VCALENDAR',
        'D:displayname': props.name,
        'C:supported-calendar-component-set': props.components.join(','),
      };
      if (props.color) radicaleProps['ICAL:calendar-color'] = props.color;
      writeFileSync(join(folder, '.Radicale.props'), JSON.stringify(radicaleProps));
      for (const [name, ics] of Object.entries(objects)) writeFileSync(join(folder, name), ics);
      return `/${encodeURIComponent(user)}/${slug}/`;
    },
    copyCollectionOnDisk: (fromUser, toUser, slug) => {
      const root = join(dir, 'collections', 'collection-root');
      mkdirSync(join(root, toUser), { recursive: true });
      cpSync(join(root, fromUser, slug), join(root, toUser, slug), { recursive: true });
      return `/${encodeURIComponent(toUser)}/${slug}/`;
    },
  };
}
