import type { ConflictWarning } from '../entities/conflict-warning.entity';
import type { ConflictWarningType } from './conflict-warning.types';

/** Returns the API view of a warning (plain data; also the `conflictWarnings` subscription payload). */
export function toWarningDto(w: ConflictWarning, userExternalId: string): ConflictWarningType {
  return {
    id: w.id,
    kind: w.kind,
    userId: userExternalId,
    appointmentId: w.appointmentId,
    message: w.message,
    startsAt: w.startsAt,
    endsAt: w.endsAt,
    createdAt: w.createdAt,
    resolved: w.resolved,
  };
}
