import { MaxLength, ValidateNested } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { AppointmentStatus } from '../entities/appointment.entity';
import { SyncState } from '../entities/sync-link.entity';

registerEnumType(AppointmentStatus, { name: 'AppointmentStatus' });
registerEnumType(SyncState, { name: 'SyncState', description: 'Where the iCloud copies of an appointment stand (the worst of them).' });

@ObjectType('Contact', { simpleResolvers: true })
export class ContactType {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) email!: string | null;
  @Field(() => String, { nullable: true }) phone!: string | null;
}

@ObjectType('Appointment', { simpleResolvers: true })
export class AppointmentType {
  @Field(() => ID) id!: string;
  @Field(() => ID) calendarId!: string;
  @Field(() => Date) startsAt!: Date;
  @Field(() => Date) endsAt!: Date;
  @Field(() => String) title!: string;
  @Field(() => String, { nullable: true }) notes!: string | null;
  @Field(() => String, { nullable: true }) location!: string | null;
  @Field(() => AppointmentStatus) status!: AppointmentStatus;
  @Field(() => [ID], { description: 'CRM user ids the appointment is assigned to.' }) assignedUserIds!: string[];
  @Field(() => ContactType) contact!: ContactType;
  @Field(() => SyncState) syncState!: SyncState;
  @Field(() => String, { nullable: true, description: 'Why a copy is FAILED, NOT_CONNECTED or still PENDING.' }) syncError!: string | null;
}

@InputType()
export class ContactInput {
  @Field(() => String) @MaxLength(200) name!: string;
  @Field(() => String, { nullable: true }) @MaxLength(320) email?: string;
  @Field(() => String, { nullable: true }) @MaxLength(50) phone?: string;
}

@InputType()
export class BookAppointmentInput {
  @Field(() => ID) calendarId!: string;
  @Field(() => Date) startsAt!: Date;
  // Without it class-validator never looks inside: a 300-character name was accepted.
  @Field(() => ContactInput) @ValidateNested() contact!: ContactInput;
  @Field(() => String, { nullable: true }) @MaxLength(300) title?: string;
  @Field(() => String, { nullable: true }) @MaxLength(5000) notes?: string;
}

@InputType()
export class RescheduleAppointmentInput {
  @Field(() => ID) id!: string;
  @Field(() => Date) startsAt!: Date;
}
