import cron from 'node-cron';
import type { OutboxService } from '../services/outbox.service';

/** Every 15 s, drains outbox entries whose retry time has come (fresh entries are pushed right after commit). */
export function startOutboxJob(outbox: OutboxService): () => Promise<void> {
  const task = cron.schedule('*/15 * * * * *', () => outbox.kick(), { noOverlap: true, name: 'outbox' });
  return async () => {
    await task.destroy();
    await outbox.idle();
  };
}
