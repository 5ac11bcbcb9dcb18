import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { SyncOutcome } from '../entities/sync-run.entity';

registerEnumType(SyncOutcome, { name: 'SyncOutcome', description: 'SUCCESS, PARTIAL (something was skipped: see warnings) or FAILED (see error).' });

@ObjectType('SyncRun', { description: 'One sync of one integration: what it changed and what it cost.', simpleResolvers: true })
export class SyncRunType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  integrationId!: string;

  @Field(() => Date)
  startedAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the integration was due to sync next as this run ended: the interval, or the backoff after a failure; null when paused.' })
  nextSyncAt!: Date | null;

  @Field(() => SyncOutcome)
  outcome!: SyncOutcome;

  @Field(() => Int, { description: 'HTTP requests sent to the CalDAV server.' })
  requests!: number;

  @Field(() => Int, { description: 'iCloud events seen for the first time.' })
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int)
  deleted!: number;

  @Field(() => [String])
  warnings!: string[];

  @Field(() => String, { nullable: true })
  error!: string | null;
}

@ObjectType('BusyInterval', { description: 'Busy time from an iCloud calendar: one interval per occurrence.', simpleResolvers: true })
export class BusyIntervalType {
  @Field(() => Date)
  startsAt!: Date;

  @Field(() => Date)
  endsAt!: Date;

  @Field(() => ID)
  calendarId!: string;

  @Field(() => String, { nullable: true, description: 'The event title, for its owner only; null for anyone else.' })
  title!: string | null;
}
