import type { EntityManager } from '@mikro-orm/core';
import { Appointment } from '../../entities/appointment.entity';
import type { ParsedEvent } from '../ical/calendar-object';

/**
 * The notes part of a description we rendered (notes, then our "Contact:" trailer, see desired-event.ts),
 * or the whole description when someone replaced it on the iPhone.
 */
export function notesOf(description: string | null): string | null {
  if (!description) return null;
  const trailer = description.search(/(^|\n)Contact: /);
  const notes = (trailer < 0 ? description : description.slice(0, trailer)).trim();
  return notes || null;
}

/**
 * Applies an iCloud edit of a CRM appointment's copy (time, title, notes, location) to the appointment, moving
 * the time it blocks for its assignees with it. Returns the appointment, or null when it no longer exists.
 */
export async function applyICloudEdit(em: EntityManager, appointmentId: string, theirs: ParsedEvent): Promise<Appointment | null> {
  const appointment = await em.findOne(Appointment, appointmentId, { populate: ['calendar', 'assignees'] });
  if (!appointment || !theirs.start || !theirs.end) return null;
  const before = appointment.calendar.bufferBeforeMinutes * 60000;
  const after = appointment.calendar.bufferAfterMinutes * 60000;
  Object.assign(appointment, {
    startsAt: theirs.start,
    endsAt: theirs.end,
    title: theirs.summary ?? appointment.title,
    notes: notesOf(theirs.description),
    location: theirs.location,
    updatedAt: theirs.lastModified ?? new Date(),
  });
  for (const a of appointment.assignees) Object.assign(a, { blockStart: new Date(theirs.start.getTime() - before), blockEnd: new Date(theirs.end.getTime() + after) });
  return appointment;
}
