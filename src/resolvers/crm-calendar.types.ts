import { ArrayMaxSize, MaxLength, ValidateNested } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AvailabilityReasonCode } from '../availability/explain';
import { CrmCalendarType, MemberPriority, RoundRobinMode } from '../entities/crm-calendar.entity';

registerEnumType(CrmCalendarType, { name: 'CrmCalendarType' });
registerEnumType(RoundRobinMode, { name: 'RoundRobinMode' });
registerEnumType(MemberPriority, { name: 'MemberPriority' });

@ObjectType('OpenHours', { description: 'Open hours of one weekday, wall-clock times in the calendar\'s zone.', simpleResolvers: true })
@InputType('OpenHoursInput')
export class OpenHoursType {
  @Field(() => Int, { description: '1 = Monday .. 7 = Sunday.' })
  weekday!: number;

  @Field(() => String, { description: '"09:00"' })
  start!: string;

  @Field(() => String, { description: '"17:00"' })
  end!: string;
}

@ObjectType('TeamMember', { simpleResolvers: true })
export class TeamMemberType {
  @Field(() => ID, { description: 'The CRM user id (JWT sub).' })
  userId!: string;

  @Field(() => MemberPriority)
  priority!: MemberPriority;

  @Field(() => Boolean)
  isPrimary!: boolean;
}

@InputType()
export class TeamMemberInput {
  @Field(() => ID, { description: 'The CRM user id (JWT sub).' })
  @MaxLength(200)
  userId!: string;

  @Field(() => MemberPriority, { nullable: true })
  priority?: MemberPriority;

  @Field(() => Boolean, { nullable: true })
  isPrimary?: boolean;
}

@ObjectType('CrmCalendar', { description: 'A calendar people book through: class booking, round robin, collective or service.', simpleResolvers: true })
export class CrmCalendarObject {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => CrmCalendarType) type!: CrmCalendarType;
  @Field(() => String, { description: 'IANA zone of the open hours.' }) timezone!: string;
  @Field(() => Int, { description: 'Length of an appointment (a service\'s duration).' }) slotDurationMinutes!: number;
  @Field(() => Int) slotIntervalMinutes!: number;
  @Field(() => Int) bufferBeforeMinutes!: number;
  @Field(() => Int) bufferAfterMinutes!: number;
  @Field(() => Int) seatsPerSlot!: number;
  @Field(() => RoundRobinMode) roundRobinMode!: RoundRobinMode;
  @Field(() => Int) minNoticeMinutes!: number;
  @Field(() => Int) bookingWindowDays!: number;
  @Field(() => [OpenHoursType]) openHours!: OpenHoursType[];
  @Field(() => [TeamMemberType]) teamMembers!: TeamMemberType[];
}

@InputType()
export class CreateCrmCalendarInput {
  @Field(() => String) @MaxLength(200) name!: string;
  @Field(() => CrmCalendarType) type!: CrmCalendarType;
  @Field(() => String) @MaxLength(100) timezone!: string;
  @Field(() => Int) slotDurationMinutes!: number;
  @Field(() => Int, { nullable: true }) slotIntervalMinutes?: number;
  @Field(() => Int, { nullable: true }) bufferBeforeMinutes?: number;
  @Field(() => Int, { nullable: true }) bufferAfterMinutes?: number;
  @Field(() => Int, { nullable: true, description: 'Class booking only: 1 to 9999.' }) seatsPerSlot?: number;
  @Field(() => RoundRobinMode, { nullable: true }) roundRobinMode?: RoundRobinMode;
  @Field(() => Int, { nullable: true }) minNoticeMinutes?: number;
  @Field(() => Int, { nullable: true }) bookingWindowDays?: number;
  @Field(() => [OpenHoursType]) @ArrayMaxSize(70) @ValidateNested({ each: true }) openHours!: OpenHoursType[];

  @Field(() => [TeamMemberInput])
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  teamMembers!: TeamMemberInput[];
}

@ObjectType('TimeSlot', { description: 'A bookable slot.', simpleResolvers: true })
export class TimeSlotType {
  @Field(() => Date) startsAt!: Date;
  @Field(() => Date) endsAt!: Date;
  @Field(() => String, { description: 'Start as local time with offset in the requested zone, e.g. 2026-03-30T09:00:00+02:00.' })
  startsAtLocal!: string;
  @Field(() => [ID], { description: 'Members free for it (CRM user ids), best first.' }) availableUserIds!: string[];
  @Field(() => Int, { description: 'Seats left (class), free members (round robin, service), 1 (collective).' }) seatsLeft!: number;
}

registerEnumType(AvailabilityReasonCode, {
  name: 'AvailabilityReasonCode',
  description: 'Why a slot, or a member at a slot, cannot be booked; NOT_CONNECTED and NEEDS_RECONNECT say a member\'s iCloud busy time is not known or not current.',
});

@ObjectType('AvailabilityReason', { simpleResolvers: true })
export class AvailabilityReasonType {
  @Field(() => AvailabilityReasonCode) code!: AvailabilityReasonCode;
  @Field(() => String) message!: string;
}

@ObjectType('MemberAvailabilityReason', { simpleResolvers: true })
export class MemberAvailabilityReasonType extends AvailabilityReasonType {
  @Field(() => String, { nullable: true, description: 'ICLOUD_BUSY: the iCloud calendar the busy time comes from.' }) calendarName?: string | null;
  @Field(() => Date, { nullable: true, description: 'CRM_APPOINTMENT (buffers included) and ICLOUD_BUSY: the blocking interval.' }) startsAt?: Date | null;
  @Field(() => Date, { nullable: true }) endsAt?: Date | null;
  @Field(() => ID, { nullable: true, description: 'CRM_APPOINTMENT: the appointment in the way.' }) appointmentId?: string | null;
  @Field(() => String, { nullable: true, description: "ICLOUD_BUSY: the event's title, for its owner only." }) title?: string | null;
}

@ObjectType('MemberExplanation', { simpleResolvers: true })
export class MemberExplanationType {
  @Field(() => ID, { description: 'The CRM user id.' }) userId!: string;
  @Field(() => Boolean, { description: 'Nothing of theirs overlaps the slot with the calendar\'s buffers.' }) free!: boolean;
  @Field(() => [MemberAvailabilityReasonType]) reasons!: MemberAvailabilityReasonType[];
}

@ObjectType('SlotExplanation', { description: 'Why a slot is or is not bookable; `bookable` exactly when availableSlots offers it.', simpleResolvers: true })
export class SlotExplanationType {
  @Field(() => Date) startsAt!: Date;
  @Field(() => Date) endsAt!: Date;
  @Field(() => Boolean) bookable!: boolean;
  @Field(() => [AvailabilityReasonType], { description: 'What is wrong with the slot itself: open hours, grid, notice, booking window, seats.' }) reasons!: AvailabilityReasonType[];
  @Field(() => [MemberExplanationType]) members!: MemberExplanationType[];
}
