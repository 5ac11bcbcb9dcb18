import { CrmCalendarType } from '../entities/crm-calendar.entity';

/**
 * Sync keys name what one iCloud copy holds: `appt:<appointmentId>` for an appointment,
 * `class:<calendarId>:<start ISO>` for a class session (ONE event for all its seats). Built and read here only.
 */
export type SyncKeyParts = { kind: 'appointment'; appointmentId: string } | { kind: 'session'; calendarId: string; startsAt: Date };

/** UIDs of the events this server writes for CRM appointments end with this suffix (origin CRM when read back). */
export const CRM_UID_SUFFIX = '@crm-calendar-core';

/** The key of an appointment's own copy. */
export const appointmentKey = (appointmentId: string) => `appt:${appointmentId}`;

/** The key of a class session's copy. */
export const classSessionKey = (calendarId: string, start: Date) => `class:${calendarId}:${start.toISOString()}`;

/** The key of the copy an appointment is in: its own, or its class session's (one event for all seats). */
export function syncKeyOf(appointment: { id: string; startsAt: Date; calendar: { id: string; type: CrmCalendarType } }): string {
  return appointment.calendar.type === CrmCalendarType.CLASS_BOOKING ? classSessionKey(appointment.calendar.id, appointment.startsAt) : appointmentKey(appointment.id);
}

/** True for a class session's key. */
export const isSessionKey = (key: string) => key.startsWith('class:');

/** Splits a key into what it names. Throws for a key this server did not make. */
export function parseSyncKey(key: string): SyncKeyParts {
  const appointment = /^appt:(.+)$/.exec(key);
  if (appointment) return { kind: 'appointment', appointmentId: appointment[1] };
  const session = /^class:([^:]+):(.+)$/.exec(key);
  if (session) return { kind: 'session', calendarId: session[1], startsAt: new Date(session[2]) };
  throw new Error(`not a sync key: ${key}`);
}

/** A query for the appointments a key covers (one appointment, or every seat of a session). */
export function appointmentsOf(key: string): { id: string } | { calendar: string; startsAt: Date } {
  const parts = parseSyncKey(key);
  return parts.kind === 'appointment' ? { id: parts.appointmentId } : { calendar: parts.calendarId, startsAt: parts.startsAt };
}
