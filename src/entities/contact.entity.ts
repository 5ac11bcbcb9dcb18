import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';

/** A person who booked. Created by CRM bookings only, never from iCloud events. */
@Entity()
export class Contact {
  [OptionalProps]?: 'id' | 'email' | 'phone' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string', index: true })
  tenantId!: string;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'string', nullable: true })
  email: string | null = null;

  @Property({ type: 'string', nullable: true })
  phone: string | null = null;

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();
}
