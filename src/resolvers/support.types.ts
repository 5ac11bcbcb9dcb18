import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { MaxLength } from 'class-validator';
import { IntegrationStatus } from '../entities/calendar-integration.entity';
import { ExternalCalendarType } from './integration.types';

@InputType({ description: 'Which integrations to list; every field is optional and they combine with AND.' })
export class SupportIntegrationFilter {
  @Field(() => String, { nullable: true, description: 'The Apple ID, matched case-insensitively.' })
  @MaxLength(320)
  appleId?: string | null;

  @Field(() => String, { nullable: true, description: 'Ignored for tenant admins (always their tenant).' })
  @MaxLength(200)
  tenantId?: string | null;

  @Field(() => ID, { nullable: true, description: "The CRM's user id." })
  @MaxLength(200)
  userId?: string | null;

  @Field(() => IntegrationStatus, { nullable: true })
  status?: IntegrationStatus | null;
}

@ObjectType('SupportIntegration', { description: 'An integration as support sees it: whose it is and how it stands. Never a credential.', simpleResolvers: true })
export class SupportIntegrationType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  tenantId!: string;

  @Field(() => ID, { description: "The CRM's user id." })
  userId!: string;

  @Field(() => String, { description: 'The Apple ID.' })
  accountEmail!: string;

  @Field(() => IntegrationStatus)
  status!: IntegrationStatus;

  @Field(() => String, { nullable: true })
  statusMessage!: string | null;

  @Field(() => Date, { nullable: true })
  lastSyncedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  nextSyncAt!: Date | null;

  @Field(() => Int, { description: 'Failed runs in a row (0 after a success).' })
  failureCount!: number;

  @Field(() => [ExternalCalendarType])
  calendars!: ExternalCalendarType[];

  /** The owner's internal id, for the field resolvers (not part of the schema). */
  ownerId!: string;
}

@ObjectType('PageInfo', { simpleResolvers: true })
export class PageInfoType {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` for the next page.' })
  endCursor!: string | null;
}

@ObjectType('SupportIntegrationConnection', { simpleResolvers: true })
export class SupportIntegrationConnectionType {
  @Field(() => [SupportIntegrationType])
  nodes!: SupportIntegrationType[];

  @Field(() => PageInfoType)
  pageInfo!: PageInfoType;

  @Field(() => Int, { description: 'All matches, on every page.' })
  totalCount!: number;
}

@ObjectType('IntegrationStatusChange', { description: 'One change of an integration\'s status or status message.', simpleResolvers: true })
export class IntegrationStatusChangeType {
  @Field(() => Date)
  at!: Date;

  @Field(() => IntegrationStatus, { nullable: true, description: 'Null for the first connection.' })
  from!: IntegrationStatus | null;

  @Field(() => IntegrationStatus)
  to!: IntegrationStatus;

  @Field(() => String, { nullable: true, description: 'The status message it set: why.' })
  reason!: string | null;

  @Field(() => String, { description: 'What happened: connected, synced, syncFailed, needsReconnect, disconnected, primaryCalendarLost, primaryCalendarChosen.' })
  transition!: string;
}
