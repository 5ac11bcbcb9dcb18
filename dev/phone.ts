import { randomUUID } from 'node:crypto';
import type { CalDavTarget, TargetAccount } from './caldav-targets';

/**
 * The user's iPhone: another CalDAV client that creates, changes and deletes events directly on the
 * server, as Apple clients do (random resource names, href not derived from UID).
 */
export class Phone {
  constructor(
    private readonly target: CalDavTarget,
    private readonly account: TargetAccount,
  ) {}

  /** Absolute URL of a calendar of the account by its slug (e.g. "work"). */
  calendarUrl(slug: string): string {
    return new URL(`${slug}/`, this.account.homeUrl).href;
  }

  /** PUTs an object under a random name (or `name`); returns its URL. Throws unless the server stored it. */
  async put(slug: string, ics: string, name = `${randomUUID().toUpperCase()}.ics`): Promise<string> {
    const url = new URL(name, this.calendarUrl(slug)).href;
    const res = await this.target.request(this.account, url, { method: 'PUT', body: ics, headers: { 'content-type': 'text/calendar; charset=utf-8' } });
    if (res.status !== 201 && res.status !== 204) throw new Error(`PUT ${url} failed: ${res.status} ${await res.text()}`);
    return url;
  }

  /** Every event of a calendar, read as another client would (PROPFIND for the members, GET for each). */
  async events(slug: string): Promise<{ href: string; ics: string }[]> {
    const res = await this.target.request(this.account, this.calendarUrl(slug), {
      method: 'PROPFIND',
      body: '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
      headers: { depth: '1', 'content-type': 'application/xml' },
    });
    const own = new URL(this.calendarUrl(slug)).pathname;
    const hrefs = [...(await res.text()).matchAll(/<(?:\w+:)?href>([^<]+)<\/(?:\w+:)?href>/g)].map((m) => m[1]).filter((h) => !own.endsWith(h) && h !== own && h.endsWith('.ics'));
    const out = [];
    for (const href of hrefs) {
      const url = new URL(href, this.calendarUrl(slug)).href;
      const get = await this.target.request(this.account, url, { method: 'GET' });
      if (get.ok) out.push({ href: url, ics: await get.text() });
    }
    return out;
  }

  async delete(url: string): Promise<void> {
    const res = await this.target.request(this.account, url, { method: 'DELETE' });
    if (!res.ok) throw new Error(`DELETE ${url} failed: ${res.status}`);
  }
}

/** A VEVENT in UTC, optionally with extra lines (RRULE, TRANSP, …). */
export function vevent(uid: string, start: string, end: string, summary: string, extra: string[] = []): string {
  const stamp = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d+/, '');
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Apple Inc.//iOS 17.0//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${stamp(new Date().toISOString())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${summary}`,
    ...extra,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
