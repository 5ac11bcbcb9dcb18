import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Index, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';

/**
 * "Sync key K of user U must be brought in line with the CRM": written in the same transaction as the
 * appointment change. The executor renders the current CRM state of K, so entries are idempotent and
 * several entries for one key collapse into one write.
 */
@Entity()
@Index({ properties: ['nextAttemptAt'] })
export class OutboxEntry {
  [OptionalProps]?: 'id' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'leaseOwner' | 'leaseUntil' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'string' })
  syncKey!: string;

  /** Internal user id. */
  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'integer' })
  attempts: number = 0;

  @Property({ type: DateTimeType })
  nextAttemptAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  lastError: string | null = null;

  /** The drain holding the entry (see `sync/lease.ts`); null when free. */
  @Property({ type: 'text', nullable: true })
  leaseOwner: string | null = null;

  @Property({ type: DateTimeType, nullable: true })
  leaseUntil: Date | null = null;

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();
}
