import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { toAppointmentDtos } from './appointment.mapper';
import { AppointmentType, BookAppointmentInput, RescheduleAppointmentInput } from './appointment.types';

@Resolver()
export class AppointmentResolver {
  @Mutation(() => AppointmentType, { description: 'Books a slot; the appointment is pushed to the assignees\' primary iCloud calendars.' })
  async bookAppointment(@Arg('input', () => BookAppointmentInput) input: BookAppointmentInput, @Ctx() { em, principal, services }: Context): Promise<AppointmentType> {
    const [dto] = await toAppointmentDtos(em, services, [await services.booking.book(em, principal, input)]);
    return dto;
  }

  @Mutation(() => AppointmentType)
  async rescheduleAppointment(@Arg('input', () => RescheduleAppointmentInput) input: RescheduleAppointmentInput, @Ctx() { em, principal, services }: Context): Promise<AppointmentType> {
    const [dto] = await toAppointmentDtos(em, services, [await services.booking.reschedule(em, principal, input.id, input.startsAt)]);
    return dto;
  }

  @Mutation(() => AppointmentType)
  async cancelAppointment(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<AppointmentType> {
    const [dto] = await toAppointmentDtos(em, services, [await services.booking.cancel(em, principal, id)]);
    return dto;
  }

  @Mutation(() => AppointmentType, { description: 'Pushes an appointment deleted in iCloud back to iCloud (the other choice is cancelAppointment).' })
  async restoreAppointmentInICloud(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<AppointmentType> {
    const [dto] = await toAppointmentDtos(em, services, [await services.booking.restoreInICloud(em, principal, id)]);
    return dto;
  }

  @Query(() => AppointmentType)
  async appointment(@Arg('id', () => ID) id: string, @Ctx() { em, principal, services }: Context): Promise<AppointmentType> {
    const [dto] = await toAppointmentDtos(em, services, [await services.booking.load(em, principal, id, 'read')]);
    return dto;
  }

  @Query(() => [AppointmentType], { description: 'Appointments assigned to a user (you by default; admins may name a user) overlapping [from, to), at most 93 days.' })
  async appointments(
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('userId', () => ID, { nullable: true }) userId: string | undefined,
    @Ctx() { em, principal, services }: Context,
  ): Promise<AppointmentType[]> {
    return services.booking.list(em, principal, from, to, userId);
  }
}
