import type { CrmCalendar, MemberPriority } from '../entities/crm-calendar.entity';
import type { EngineCalendar } from './availability.engine';
import type { SlotRules } from './slots';

/** A team member as availability needs it. */
export interface RuleMember {
  /** Internal user id. */
  userId: string;
  /** The CRM user id (a token's `sub`). */
  externalId: string;
  priority: MemberPriority;
}

/**
 * What availability needs of a CRM calendar, as plain data: read straight from the database for a page of
 * slots and for a booking (no entity is built), or taken from a loaded entity (`rulesOf`).
 */
export interface CalendarRules extends EngineCalendar, SlotRules {
  tenantId: string;
  minNoticeMinutes: number;
  bookingWindowDays: number;
  /** In the order of the calendar's members (a class calendar's host is its only member). */
  members: RuleMember[];
}

/** The rules of a calendar entity whose members and their users are loaded. */
export function rulesOf(calendar: CrmCalendar): CalendarRules {
  const { id, tenantId, type, timezone, openHours, slotDurationMinutes, slotIntervalMinutes, bufferBeforeMinutes, bufferAfterMinutes, seatsPerSlot, roundRobinMode, minNoticeMinutes, bookingWindowDays } = calendar;
  return {
    id,
    tenantId,
    type,
    timezone,
    openHours,
    slotDurationMinutes,
    slotIntervalMinutes,
    bufferBeforeMinutes,
    bufferAfterMinutes,
    seatsPerSlot,
    roundRobinMode,
    minNoticeMinutes,
    bookingWindowDays,
    members: calendar.members.getItems().map((m) => ({ userId: m.user.id, externalId: m.user.externalId, priority: m.priority })),
  };
}
