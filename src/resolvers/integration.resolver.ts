import { Arg, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import type { Topics } from '../pubsub';
import { fromIntegrationView, toCalendarDto, toIntegrationDto } from './integration.mapper';
import {
  CalendarIntegrationType,
  ConnectICloudInput,
  ExternalCalendarType,
  SetConflictCalendarsInput,
  SetPrimaryCalendarInput,
} from './integration.types';
import { visibleTo } from './visibility';

type StatusEvent = Topics['INTEGRATION_STATUS_CHANGED'][0];

@Resolver(() => CalendarIntegrationType)
export class IntegrationResolver {
  @Query(() => [CalendarIntegrationType], { description: "Your connected calendar accounts; a tenant admin (or support) may name a user's." })
  async calendarIntegrations(@Arg('userId', () => ID, { nullable: true }) userId: string | undefined, @Ctx() { em, principal, services }: Context): Promise<CalendarIntegrationType[]> {
    return (await services.integrations.list(em, principal, userId)).map(toIntegrationDto);
  }

  @Query(() => CalendarIntegrationType, { description: "One of the caller's accounts; NOT_FOUND for anyone else's." })
  async calendarIntegration(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<CalendarIntegrationType> {
    return toIntegrationDto(await services.integrations.get(em, principal, id));
  }

  @Mutation(() => CalendarIntegrationType, {
    description: 'Connects an iCloud account with an app-specific password; connecting the same Apple ID again updates it.',
  })
  async connectICloud(@Arg('input', () => ConnectICloudInput) input: ConnectICloudInput, @Ctx() { em, principal, services }: Context): Promise<CalendarIntegrationType> {
    return toIntegrationDto(await services.integrations.connectICloud(em, principal, input));
  }

  @Mutation(() => Boolean, { description: 'Deletes the stored password and stops syncing; CRM data is kept.' })
  async disconnectCalendarIntegration(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<boolean> {
    return services.integrations.disconnect(em, principal, id);
  }

  @Mutation(() => CalendarIntegrationType, { description: 'Lists the account\'s calendars again, picking up calendars added or removed in iCloud.' })
  async refreshCalendarList(@Arg('integrationId', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<CalendarIntegrationType> {
    return toIntegrationDto(await services.integrations.refreshCalendars(em, principal, id));
  }

  @Mutation(() => ExternalCalendarType, { description: 'Makes a writable calendar the one CRM appointments are written to.' })
  async setPrimaryCalendar(@Arg('input', () => SetPrimaryCalendarInput) input: SetPrimaryCalendarInput, @Ctx() { em, principal, services }: Context): Promise<ExternalCalendarType> {
    return toCalendarDto(await services.integrations.setPrimaryCalendar(em, principal, input.calendarId));
  }

  @Mutation(() => [ExternalCalendarType], { description: "Chooses the calendars whose events block booking; returns all the caller's calendars." })
  async setConflictCalendars(@Arg('input', () => SetConflictCalendarsInput) input: SetConflictCalendarsInput, @Ctx() { em, principal, services }: Context): Promise<ExternalCalendarType[]> {
    return (await services.integrations.setConflictCalendars(em, principal, input.calendarIds)).map(toCalendarDto);
  }

  @Subscription(() => CalendarIntegrationType, {
    description: 'Fires when the status of an integration the caller may see actually changes.',
    subscribe: ({ context }) => visibleTo(context as Context, (context as Context).services.events.subscribe('INTEGRATION_STATUS_CHANGED')),
  })
  integrationStatusChanged(@Root() event: StatusEvent): CalendarIntegrationType {
    return fromIntegrationView(event.integration);
  }
}
