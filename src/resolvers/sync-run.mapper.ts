import { syncRunView, type SyncRunView } from '../entities/events';
import type { SyncRun } from '../entities/sync-run.entity';
import type { SyncRunType } from './sync-run.types';

/** Returns the GraphQL view of a run event (the payload of `syncResults`). */
export function fromSyncRunView(v: SyncRunView): SyncRunType {
  return { ...v, startedAt: new Date(v.startedAt), finishedAt: v.finishedAt ? new Date(v.finishedAt) : null, nextSyncAt: v.nextSyncAt ? new Date(v.nextSyncAt) : null };
}

/** Returns the API view of a run. */
export function toSyncRunDto(run: SyncRun): SyncRunType {
  return fromSyncRunView(syncRunView(run));
}
