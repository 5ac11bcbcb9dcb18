import type { ConflictWarning } from '../entities/conflict-warning.entity';
import { conflictWarningView, type ConflictWarningView } from '../entities/events';
import type { ConflictWarningType } from './conflict-warning.types';

const dateOrNull = (iso: string | null) => (iso ? new Date(iso) : null);

/** Returns the GraphQL view of a warning event (the payload of `conflictWarnings`). */
export function fromWarningView(v: ConflictWarningView): ConflictWarningType {
  return { ...v, startsAt: dateOrNull(v.startsAt), endsAt: dateOrNull(v.endsAt), createdAt: new Date(v.createdAt) };
}

/** Returns the API view of a warning for the CRM user `userExternalId`. */
export function toWarningDto(w: ConflictWarning, userExternalId: string): ConflictWarningType {
  return fromWarningView(conflictWarningView(w, userExternalId));
}
