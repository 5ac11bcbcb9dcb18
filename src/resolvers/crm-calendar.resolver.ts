import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import type { CrmCalendar } from '../entities/crm-calendar.entity';
import { MAX_SLOT_RANGE_DAYS } from '../services/availability.service';
import { CreateCrmCalendarInput, CrmCalendarObject, SlotExplanationType, TimeSlotType } from './crm-calendar.types';

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
  async createCrmCalendar(@Arg('input', () => CreateCrmCalendarInput) input: CreateCrmCalendarInput, @Ctx() { em, principal, services }: Context): Promise<CrmCalendarObject> {
    return toCalendarDto(await services.calendars.create(em, principal, input));
  }

  @Mutation(() => CrmCalendarObject, { description: 'Replaces a calendar\'s settings, open hours and team (tenant admins only; the type cannot change).' })
  async updateCrmCalendar(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => CreateCrmCalendarInput) input: CreateCrmCalendarInput,
    @Ctx() { em, principal, services }: Context,
  ): Promise<CrmCalendarObject> {
    return toCalendarDto(await services.calendars.update(em, principal, id, input));
  }

  @Query(() => [CrmCalendarObject], { description: 'Calendars you may use: all of the tenant for admins, yours for users.' })
  async crmCalendars(@Ctx() { em, principal, services }: Context): Promise<CrmCalendarObject[]> {
    return (await services.calendars.list(em, principal)).map(toCalendarDto);
  }

  @Query(() => CrmCalendarObject)
  async crmCalendar(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<CrmCalendarObject> {
    return toCalendarDto(await services.calendars.get(em, principal, id, 'read'));
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
    @Ctx() { em, principal, services }: Context,
  ): Promise<TimeSlotType[]> {
    return services.availability.availableSlots(em, principal, calendarId, from, to, timezone);
  }

  @Query(() => SlotExplanationType, {
    description: 'Why the slot starting at `startsAt` is or is not bookable, member by member ("why can\'t my client book 3 pm?"). ' +
      'Same visibility as availableSlots; `bookable` exactly when availableSlots offers the slot.',
  })
  async explainAvailability(@Arg('calendarId', () => ID) calendarId: string, @Arg('startsAt', () => Date) startsAt: Date, @Ctx() { em, principal, services }: Context): Promise<SlotExplanationType> {
    return services.availability.explain(em, principal, calendarId, startsAt);
  }
}
