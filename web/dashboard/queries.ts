/** The operations the dashboard sends (checked against the schema and the query limits by test/schema.test.ts). */

const RUN = 'id integrationId outcome startedAt finishedAt nextSyncAt requests created updated deleted warnings error';
const INTEGRATION = `id accountEmail status statusMessage lastSyncedAt nextSyncAt recentSyncRuns { ${RUN} }`;
const WARNING = 'id kind message userId appointmentId startsAt endsAt createdAt resolved';
export const SNAPSHOT = `query DashboardSnapshot { viewer { id role tenantId } calendarIntegrations { ${INTEGRATION} } conflictWarnings(resolved: false) { ${WARNING} } }`;
/** A tenant admin's tenant, or every tenant for support: a page of integrations with their runs and open warnings. */
export const SCOPE = `query DashboardScope($after: String) { supportIntegrations(first: 40, after: $after) { nodes { id userId tenantId accountEmail status statusMessage lastSyncedAt nextSyncAt recentSyncRuns { ${RUN} } openConflictWarnings { ${WARNING} } } pageInfo { hasNextPage endCursor } } }`;
export const SUBSCRIPTIONS = {
  runs: `subscription DashboardRuns { syncResults { ${RUN} } }`,
  status: `subscription DashboardStatus { integrationStatusChanged { ${INTEGRATION} } }`,
  warnings: `subscription DashboardWarnings { conflictWarnings { ${WARNING} } }`,
};
