import { randomUUID } from 'node:crypto';
import { OptionalProps, DateTimeType, Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { CalendarIntegration, IntegrationStatus } from './calendar-integration.entity';

/**
 * One change of an integration's status or status message, written by the transition that made it
 * (`services/integration-status.ts`): what support staff read to answer "what happened to my account".
 */
@Entity()
@Index({ properties: ['integration', 'at'] })
export class IntegrationStatusChange {
  [OptionalProps]?: 'id' | 'from' | 'message' | 'at';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => CalendarIntegration, { deleteRule: 'cascade' })
  integration!: CalendarIntegration;

  /** Denormalised for tenant-scoped queries. */
  @Property({ type: 'string' })
  tenantId!: string;

  /** The transition's name (connected, synced, syncFailed, needsReconnect, disconnected). */
  @Property({ type: 'string' })
  transition!: string;

  /** Null for the first connection. */
  @Enum({ items: () => IntegrationStatus, type: 'string', nullable: true })
  from: IntegrationStatus | null = null;

  @Enum({ items: () => IntegrationStatus, type: 'string' })
  to!: IntegrationStatus;

  @Property({ type: 'text', nullable: true })
  message: string | null = null;

  @Property({ type: DateTimeType })
  at: Date = new Date();
}
