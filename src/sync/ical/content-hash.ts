import ICAL from 'ical.js';
import { createHash } from 'node:crypto';

/** Properties that change without the event changing (servers and clients rewrite them freely). */
const NOISE = new Set(['dtstamp', 'last-modified', 'prodid', 'sequence', 'created']);

function lines(component: ICAL.Component): string[] {
  const own = component
    .getAllProperties()
    .filter((p) => !NOISE.has(p.name))
    .map((p) => JSON.stringify(p.toJSON()));
  const children = component.getAllSubcomponents().filter((c) => c.name !== 'vtimezone').map((c) => `${c.name}{${lines(c).join('|')}}`);
  return [...own, ...children].sort();
}

/**
 * Hash of a calendar object's meaning: properties compared parsed and sorted, without DTSTAMP,
 * LAST-MODIFIED, PRODID, SEQUENCE, CREATED and VTIMEZONE definitions (CALDAV-FACTS.md, "Compare events by
 * parsed content"). Equal hashes with different etags mean nothing changed. Throws on invalid iCalendar.
 */
export function contentHash(ics: string): string {
  const root = new ICAL.Component(ICAL.parse(ics));
  return createHash('sha256').update(lines(root).join('\n')).digest('hex');
}
