import type { SyncRun } from '../entities/sync-run.entity';
import type { SyncRunType } from './sync-run.types';

/** Returns the API view of a run: plain data, also the payload of `syncResults`. */
export function toSyncRunDto(run: SyncRun): SyncRunType {
  return {
    id: run.id,
    integrationId: run.integration.id,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    outcome: run.outcome,
    requests: run.requests,
    created: run.created,
    updated: run.updated,
    deleted: run.deleted,
    warnings: run.warnings,
    error: run.error,
  };
}
