import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { IsNotEmpty, MaxLength } from 'class-validator';
import { IntegrationStatus } from '../entities/calendar-integration.entity';

registerEnumType(IntegrationStatus, { name: 'IntegrationStatus', description: 'Where a connected calendar account stands.' });

@ObjectType('ExternalCalendar', { description: 'A VEVENT calendar of a connected account.', simpleResolvers: true })
export class ExternalCalendarType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true, description: 'CSS colour "#RRGGBB" as set in iCloud.' })
  color!: string | null;

  @Field(() => Boolean, { description: 'False for subscribed and read-only shared calendars: they cannot be primary.' })
  writable!: boolean;

  @Field(() => Boolean, { description: 'CRM appointments of the user are written to this calendar.' })
  isPrimary!: boolean;

  @Field(() => Boolean, { description: 'Events of this calendar block booking.' })
  checkForConflicts!: boolean;
}

@ObjectType('CalendarIntegration', { description: 'A connected calendar account (an Apple ID).', simpleResolvers: true })
export class CalendarIntegrationType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'Always "ICLOUD" for now.' })
  provider!: string;

  @Field(() => String, { description: 'The Apple ID.' })
  accountEmail!: string;

  @Field(() => IntegrationStatus)
  status!: IntegrationStatus;

  @Field(() => String, { nullable: true, description: 'What the user should know or do, e.g. reconnect or pick another primary.' })
  statusMessage!: string | null;

  @Field(() => Date, { nullable: true })
  lastSyncedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the reconciler syncs it next: the interval after a success, the backoff after failures; null when not scheduled.' })
  nextSyncAt!: Date | null;

  @Field(() => [ExternalCalendarType])
  calendars!: ExternalCalendarType[];
}

@InputType({ description: 'An Apple ID and an app-specific password (never the normal Apple ID password).' })
export class ConnectICloudInput {
  @Field(() => String)
  @IsNotEmpty()
  @MaxLength(320)
  appleId!: string;

  @Field(() => String, { description: 'Created at appleid.apple.com > Sign-In and Security > App-Specific Passwords.' })
  @IsNotEmpty()
  @MaxLength(100)
  appSpecificPassword!: string;
}

@InputType()
export class SetPrimaryCalendarInput {
  @Field(() => ID)
  calendarId!: string;
}

@InputType()
export class SetConflictCalendarsInput {
  @Field(() => [ID], { description: 'Every calendar whose events should block booking (the primary always does).' })
  calendarIds!: string[];
}
