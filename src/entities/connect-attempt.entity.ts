import { randomUUID } from 'node:crypto';
import { OptionalProps, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/** A failed `connectICloud` attempt, kept to throttle guessing per user (shared by every instance). */
@Entity()
@Index({ properties: ['userId', 'createdAt'] })
export class ConnectAttempt {
  [OptionalProps]?: 'id' | 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  userId!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
