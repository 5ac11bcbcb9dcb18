import { randomUUID } from 'node:crypto';
import { OptionalProps, Cascade, Collection, Entity, Enum, ManyToOne, OneToMany, PrimaryKey, Property, Unique, DateTimeType } from '@mikro-orm/core';
import { ExternalCalendar } from './external-calendar.entity';
import { User } from './user.entity';

export enum IntegrationStatus {
  CONNECTED = 'CONNECTED',
  NEEDS_RECONNECT = 'NEEDS_RECONNECT',
  ERROR = 'ERROR',
  DISCONNECTED = 'DISCONNECTED',
}

/** One connected Apple ID of a user, with its encrypted app-specific password and discovery URLs. */
@Entity()
@Unique({ properties: ['user', 'appleId'] })
export class CalendarIntegration {
  [OptionalProps]?: 'id' | 'provider' | 'passwordCipher' | 'status' | 'statusMessage' | 'lastSyncedAt' | 'nextSyncAt' | 'calendarsRefreshedAt' | 'failureCount' | 'leaseOwner' | 'leaseUntil' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  /** Denormalised from the user so that every query can be scoped by tenant cheaply. */
  @Property({ type: 'string', index: true })
  tenantId!: string;

  @Property({ type: 'string' })
  provider: string = 'ICLOUD';

  @Property({ type: 'string' })
  appleId!: string;

  /** AES-256-GCM ciphertext (see CredentialsCipher); null once disconnected. Never leaves the server. */
  @Property({ type: 'text', nullable: true, lazy: true })
  passwordCipher: string | null = null;

  @Property({ type: 'text' })
  principalUrl!: string;

  /** Absolute calendar-home-set URL on the partition host. */
  @Property({ type: 'text' })
  homeUrl!: string;

  @Enum({ items: () => IntegrationStatus, type: 'string' })
  status: IntegrationStatus = IntegrationStatus.CONNECTED;

  @Property({ type: 'text', nullable: true })
  statusMessage: string | null = null;

  @Property({ type: DateTimeType, nullable: true })
  lastSyncedAt: Date | null = null;

  @Property({ type: DateTimeType, nullable: true })
  nextSyncAt: Date | null = null;

  /** When the calendar list was last read from iCloud. */
  @Property({ type: DateTimeType, nullable: true })
  calendarsRefreshedAt: Date | null = null;

  @Property({ type: 'integer' })
  failureCount: number = 0;

  /**
   * The lease is written by conditional UPDATEs only (sync/lease.ts). Lazy, so that no unit of work holds
   * it: an entity loaded while a lease was held would otherwise write that stale lease back when flushed.
   */
  @Property({ type: 'string', nullable: true, lazy: true })
  leaseOwner: string | null = null;

  @Property({ type: DateTimeType, nullable: true, lazy: true })
  leaseUntil: Date | null = null;

  @OneToMany(() => ExternalCalendar, (c) => c.integration, { cascade: [Cascade.ALL], orphanRemoval: true })
  calendars = new Collection<ExternalCalendar>(this);

  @Property({ type: DateTimeType })
  createdAt: Date = new Date();

  @Property({ type: DateTimeType, onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
