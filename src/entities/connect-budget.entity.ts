import { Entity, PrimaryKey, Property, DateTimeType } from '@mikro-orm/core';

/**
 * Connect attempts counted in a fixed window, per user ("user:<id>") and per Apple ID ("apple:<id>"),
 * shared by every instance. One row per key, changed only by conditional UPDATEs, so that parallel
 * attempts can never pass the limit.
 */
@Entity()
export class ConnectBudget {
  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: DateTimeType })
  windowStart!: Date;

  @Property({ type: 'integer' })
  attempts!: number;
}
