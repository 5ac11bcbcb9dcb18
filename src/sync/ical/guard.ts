/**
 * Limits on one calendar object, checked on the raw text before any parser sees it: a real event with
 * its exceptions is a few kilobytes; a crafted one must not cost a parse (ical.js recurses per nesting
 * level, and the content hash walks the tree).
 */
export const OBJECT_LIMITS = {
  /** Characters of iCalendar text. */
  maxChars: 1_000_000,
  /** BEGIN nesting (VCALENDAR > VEVENT > VALARM is 3; VTIMEZONE > STANDARD is 3). */
  maxDepth: 8,
  /** Components in all (a weekly meeting with a year of moved occurrences has about 50). */
  maxComponents: 2000,
};

/** Thrown for a calendar object that cannot be used: the sync skips it with a warning naming it. */
export class MalformedCalendarObject extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedCalendarObject';
  }
}

/**
 * Checks size, nesting and component count in one pass over the lines. Throws `MalformedCalendarObject`
 * saying which limit the object broke; returns nothing when it may be parsed.
 */
export function guardCalendarObject(ics: string): void {
  if (typeof ics !== 'string' || ics.trim() === '') throw new MalformedCalendarObject('the calendar object is empty');
  if (ics.length > OBJECT_LIMITS.maxChars) throw new MalformedCalendarObject(`the calendar object is too large (${ics.length} characters, at most ${OBJECT_LIMITS.maxChars})`);
  let depth = 0;
  let components = 0;
  const begin = /^BEGIN:/i;
  const end = /^END:/i;
  for (let at = 0; at < ics.length; ) {
    const next = ics.indexOf('\n', at);
    const line = ics.slice(at, next === -1 ? ics.length : next);
    at = next === -1 ? ics.length : next + 1;
    if (begin.test(line)) {
      components++;
      if (++depth > OBJECT_LIMITS.maxDepth) throw new MalformedCalendarObject(`the calendar object nests components deeper than ${OBJECT_LIMITS.maxDepth} levels`);
      if (components > OBJECT_LIMITS.maxComponents) throw new MalformedCalendarObject(`the calendar object has more than ${OBJECT_LIMITS.maxComponents} components`);
    } else if (end.test(line)) depth--;
  }
}
