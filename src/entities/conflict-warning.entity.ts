import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Enum, Index, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';

export enum ConflictKind {
  DOUBLE_BOOKING = 'DOUBLE_BOOKING',
  EDIT_CONFLICT = 'EDIT_CONFLICT',
  DELETED_IN_ICLOUD = 'DELETED_IN_ICLOUD',
}

/** Something the CRM user must know about: iCloud and the CRM disagree. */
@Entity()
@Index({ properties: ['tenantId', 'userId', 'resolved'] })
export class ConflictWarning {
  [OptionalProps]?: 'id' | 'appointmentId' | 'source' | 'startsAt' | 'endsAt' | 'details' | 'createdAt' | 'resolved';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string' })
  tenantId!: string;

  /** Internal user id. */
  @Property({ type: 'uuid' })
  userId!: string;

  @Enum({ items: () => ConflictKind, type: 'string' })
  kind!: ConflictKind;

  @Property({ type: 'uuid', nullable: true })
  appointmentId: string | null = null;

  /** What caused it (the href of the iCloud event): one DOUBLE_BOOKING per event and appointment, not per occurrence. */
  @Property({ type: 'text', nullable: true })
  source: string | null = null;

  @Property({ type: 'text' })
  message!: string;

  @Property({ type: DateTimeType, nullable: true })
  startsAt: Date | null = null;

  @Property({ type: DateTimeType, nullable: true })
  endsAt: Date | null = null;

  /** The losing version of an edit conflict, or other context (JSON). */
  @Property({ type: 'json', nullable: true })
  details: Record<string, unknown> | null = null;

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();

  @Property({ type: 'boolean' })
  resolved: boolean = false;
}
