import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, PrimaryKey, Property, Unique, DateTimeType } from '@mikro-orm/core';

/** A CRM user, created on first sight from a token's `sub` and `tenantId`. */
@Entity()
@Unique({ properties: ['tenantId', 'externalId'] })
export class User {
  [OptionalProps]?: 'id' | 'timezone' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** The CRM's own user id (JWT `sub`): the id the API shows. */
  @Property({ type: 'string' })
  externalId!: string;

  @Property({ type: 'string', index: true })
  tenantId!: string;

  /** IANA zone for all-day and floating iCloud events. */
  @Property({ type: 'string' })
  timezone: string = 'UTC';

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();
}
