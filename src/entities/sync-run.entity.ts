import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Enum, Index, ManyToOne, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';
import type { CalendarIntegration } from './calendar-integration.entity';

export enum SyncOutcome {
  SUCCESS = 'SUCCESS',
  /** Some calendars or objects were skipped; see warnings. */
  PARTIAL = 'PARTIAL',
  FAILED = 'FAILED',
}

/** One sync of one integration: what it did and what it cost. */
@Entity()
@Index({ properties: ['integration', 'startedAt'] })
export class SyncRun {
  [OptionalProps]?: 'id' | 'finishedAt' | 'nextSyncAt' | 'outcome' | 'requests' | 'created' | 'updated' | 'deleted' | 'warnings' | 'error';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne('CalendarIntegration', { deleteRule: 'cascade' })
  integration!: CalendarIntegration;

  @Property({ type: DateTimeType })
  startedAt!: Date;

  @Property({ type: DateTimeType, nullable: true })
  finishedAt: Date | null = null;

  /** When the integration was due to sync next as this run ended: the interval, or the backoff after a failure. */
  @Property({ type: DateTimeType, nullable: true })
  nextSyncAt: Date | null = null;

  @Enum({ items: () => SyncOutcome, type: 'string' })
  outcome: SyncOutcome = SyncOutcome.SUCCESS;

  @Property({ type: 'integer' })
  requests: number = 0;

  @Property({ type: 'integer' })
  created: number = 0;

  @Property({ type: 'integer' })
  updated: number = 0;

  @Property({ type: 'integer' })
  deleted: number = 0;

  @Property({ type: 'json' })
  warnings: string[] = [];

  @Property({ type: 'text', nullable: true })
  error: string | null = null;
}
