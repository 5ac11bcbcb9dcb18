import { CONNECT, dataOf, startTestApp, type TestApp } from '../../dev/app';
import type { CalDavTarget, TargetAccount } from '../../dev/caldav-targets';
import { Phone } from '../../dev/phone';

export const SYNC_RUN_FIELDS = 'id integrationId outcome requests created updated deleted warnings error';

/** An app with one connected account whose "Work" calendar is primary, and the user's phone. */
export interface SyncFixture {
  app: TestApp;
  account: TargetAccount;
  phone: Phone;
  token: string;
  integrationId: string;
  syncNow(): Promise<{ outcome: string; requests: number; created: number; updated: number; deleted: number; warnings: string[]; error: string | null }>;
  blocked(from?: Date, to?: Date, token?: string): Promise<{ startsAt: string; endsAt: string; title: string | null }[]>;
}

/** Connects a new account of `target` and makes its Work calendar primary (so it is synced). */
export async function syncFixture(target: CalDavTarget, env: Record<string, string> = {}): Promise<SyncFixture> {
  const account = await target.newAccount();
  const app = await startTestApp({ caldavUrl: account.serverUrl, env });
  const token = app.token('alice');
  const { id, calendars } = dataOf(await app.gql(token, CONNECT, { input: { appleId: account.appleId, appSpecificPassword: account.appSpecificPassword } })).connectICloud;
  const work = calendars.find((c: { name: string }) => c.name === account.primary.name);
  dataOf(await app.gql(token, `mutation($id: ID!) { setPrimaryCalendar(input: {calendarId: $id}) { id } }`, { id: work.id }));
  return {
    app,
    account,
    phone: new Phone(target, account),
    token,
    integrationId: id,
    syncNow: async () => dataOf(await app.gql(token, `mutation($id: ID!) { syncNow(integrationId: $id) { ${SYNC_RUN_FIELDS} } }`, { id })).syncNow,
    blocked: async (from = new Date(Date.now() - 86400000), to = new Date(Date.now() + 60 * 86400000), as = token) =>
      dataOf(await app.gql(as, `query($from: DateTimeISO!, $to: DateTimeISO!, $u: ID) { blockedTimes(from: $from, to: $to, userId: $u) { startsAt endsAt title } }`, {
        from,
        to,
        u: as === token ? null : 'alice',
      })).blockedTimes,
  };
}

/** ISO time `days` from today at `hour`:00 UTC. */
export function dayAt(days: number, hour: number): string {
  const d = new Date();
  d.setUTCHours(hour, 0, 0, 0);
  return new Date(d.getTime() + days * 86400000).toISOString().replace('.000Z', 'Z');
}

