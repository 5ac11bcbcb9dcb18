import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { formatLocal } from '../availability/zoned-time';
import type { Context } from '../context';
import { externalIdsOf } from '../services/user.service';
import type { CrmCalendar } from '../entities/crm-calendar.entity';
import { AppError } from '../errors';
import { availability } from '../services/availability.service';
import { checkRange } from '../services/range';
import { calendarFor, createCrmCalendar, listCrmCalendars, updateCrmCalendar } from '../services/crm-calendar.service';
import { isTimeZone } from '../sync/ical/timezones';
import { CreateCrmCalendarInput, CrmCalendarObject, TimeSlotType } from './crm-calendar.types';

/** Longest range one `availableSlots` query may ask for. */
export const MAX_SLOT_RANGE_DAYS = 31;

function toCalendarDto(c: CrmCalendar): CrmCalendarObject {
  const { id, name, type, timezone, slotDurationMinutes, slotIntervalMinutes, bufferBeforeMinutes, bufferAfterMinutes, seatsPerSlot, roundRobinMode, minNoticeMinutes, bookingWindowDays, openHours } = c;
  return {
    ...{ id, name, type, timezone, slotDurationMinutes, slotIntervalMinutes, bufferBeforeMinutes, bufferAfterMinutes, seatsPerSlot, roundRobinMode, minNoticeMinutes, bookingWindowDays, openHours },
    teamMembers: c.members.getItems().map((m) => ({ userId: m.user.externalId, priority: m.priority, isPrimary: m.isPrimary })),
  };
}

@Resolver()
export class CrmCalendarResolver {
  @Mutation(() => CrmCalendarObject, { description: 'Creates a CRM calendar (tenant admins only).' })
  async createCrmCalendar(@Arg('input', () => CreateCrmCalendarInput) input: CreateCrmCalendarInput, @Ctx() { em, principal }: Context): Promise<CrmCalendarObject> {
    return toCalendarDto(await createCrmCalendar(em, principal, input));
  }

  @Mutation(() => CrmCalendarObject, { description: 'Replaces a calendar\'s settings, open hours and team (tenant admins only; the type cannot change).' })
  async updateCrmCalendar(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => CreateCrmCalendarInput) input: CreateCrmCalendarInput,
    @Ctx() { em, principal }: Context,
  ): Promise<CrmCalendarObject> {
    return toCalendarDto(await updateCrmCalendar(em, principal, id, input));
  }

  @Query(() => [CrmCalendarObject], { description: 'Calendars you may use: all of the tenant for admins, yours for users.' })
  async crmCalendars(@Ctx() { em, principal }: Context): Promise<CrmCalendarObject[]> {
    return (await listCrmCalendars(em, principal)).map(toCalendarDto);
  }

  @Query(() => CrmCalendarObject)
  async crmCalendar(@Arg('id', () => ID) id: string, @Ctx() { em, principal }: Context): Promise<CrmCalendarObject> {
    return toCalendarDto(await calendarFor(em, principal, id, 'read'));
  }

  @Query(() => [TimeSlotType], {
    description: `Bookable slots starting in [from, to) (at most ${MAX_SLOT_RANGE_DAYS} days), from the local busy index and appointments only. ` +
      '`timezone` (IANA, default the calendar\'s) is the zone of startsAtLocal.',
  })
  async availableSlots(
    @Arg('calendarId', () => ID) calendarId: string,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('timezone', () => String, { nullable: true }) timezone: string | undefined,
    @Ctx() { em, principal }: Context,
  ): Promise<TimeSlotType[]> {
    checkRange(from, to, MAX_SLOT_RANGE_DAYS);
    if (timezone && !isTimeZone(timezone)) throw new AppError('BAD_USER_INPUT', `"${timezone}" is not an IANA time zone name.`);
    const calendar = await calendarFor(em, principal, calendarId, 'read');
    const zone = timezone ?? calendar.timezone;
    const slots = (await availability(em, calendar, from, to)).filter((s) => s.assignTo.length > 0);
    const ids = await externalIdsOf(em, calendar.members.getItems().map((m) => m.user.id));
    return slots.map((s) => ({ startsAt: s.start, endsAt: s.end, startsAtLocal: formatLocal(s.start, zone), availableUserIds: s.availableUserIds.map((id) => ids.get(id)!), seatsLeft: s.seatsLeft }));
  }
}
