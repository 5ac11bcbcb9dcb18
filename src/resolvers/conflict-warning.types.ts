import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ConflictKind } from '../entities/conflict-warning.entity';

registerEnumType(ConflictKind, { name: 'ConflictKind', description: 'DOUBLE_BOOKING, EDIT_CONFLICT or DELETED_IN_ICLOUD.' });

@ObjectType('ConflictWarning', { description: 'iCloud and the CRM disagree: what happened, and what the user may want to do.', simpleResolvers: true })
export class ConflictWarningType {
  @Field(() => ID)
  id!: string;

  @Field(() => ConflictKind)
  kind!: ConflictKind;

  @Field(() => ID, { description: 'The CRM user id (JWT sub) it concerns.' })
  userId!: string;

  @Field(() => ID, { nullable: true })
  appointmentId!: string | null;

  @Field(() => String)
  message!: string;

  @Field(() => Date, { nullable: true })
  startsAt!: Date | null;

  @Field(() => Date, { nullable: true })
  endsAt!: Date | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Boolean)
  resolved!: boolean;
}
