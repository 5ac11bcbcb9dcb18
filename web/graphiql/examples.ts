/**
 * Saved operations for support, opened as GraphiQL's default tabs and listed in its "Support examples" panel.
 * They use only fields of schema.graphql. The token comes from the "Access token" field above the IDE (or an
 * Authorization header in the Headers pane) and is used for HTTP and WebSocket alike.
 */
export interface Example {
  title: string;
  description: string;
  query: string;
  variables?: string;
  /** Shown in the default tabs (the rest are in the panel only). */
  tab: boolean;
}

const vars = (v: Record<string, unknown>) => JSON.stringify(v, null, 2);
/** Tomorrow at 15:00 UTC: "why can't my client book 3 pm?" */
const tomorrowAt15 = () => {
  const day = new Date(Date.now() + 86400000);
  day.setUTCHours(15, 0, 0, 0);
  return day.toISOString();
};

export const EXAMPLES: Example[] = [
  {
    title: 'Who am I',
    description: 'The user, role and tenant of the token in use.',
    tab: true,
    query: `# Paste a token once in "Access token" above (or send an Authorization
# header from the Headers pane): queries, mutations and subscriptions use it.
query WhoAmI {
  viewer { id role tenantId timezone }
}
`,
  },
  {
    title: 'Find an integration by Apple ID',
    description:
      'Integrations of an Apple ID (matched case-insensitively) with their tenant, CRM user, status, last and next sync, failures in a row, calendars, last five runs and open warnings. Support: every tenant; a tenant admin: the tenant.',
    tab: true,
    query: `# Who connected this Apple ID, and how does the account stand? Support
# sees every tenant, a tenant admin the tenant. Also filter by tenantId,
# userId or status; page with first/after (pageInfo.endCursor).
query FindIntegrationByAppleId($appleId: String!) {
  supportIntegrations(filter: { appleId: $appleId }, first: 20) {
    nodes {
      id
      tenantId
      userId
      accountEmail
      status
      statusMessage
      lastSyncedAt
      nextSyncAt
      failureCount
      calendars { id name checkForConflicts isPrimary }
      recentSyncRuns { outcome startedAt finishedAt requests created updated deleted error }
      openConflictWarnings { kind message startsAt endsAt appointmentId }
    }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
`,
    variables: vars({ appleId: 'demo@icloud.example' }),
  },
  {
    title: 'Status history of an integration',
    description: "How an integration's status changed over time and why (the latest 200 changes, oldest first).",
    tab: true,
    query: `# The status changes of one integration (its id from "Find an
# integration by Apple ID"): when, from and to which status, and why.
query IntegrationHistory($id: ID!) {
  integrationHistory(id: $id) {
    at
    from
    to
    reason
    transition
  }
}
`,
    variables: vars({ id: '' }),
  },
  {
    title: 'Recent runs and warnings',
    description:
      "A user's accounts with their last five sync runs, and the user's open conflict warnings, in the token's tenant (support in any tenant: \"Find an integration by Apple ID\" shows the same).",
    tab: true,
    query: `# The last five sync runs of each of a user's accounts, and the user's
# open conflict warnings (userId from "Find an integration by Apple ID").
# These read the token's tenant; support finds the same for any tenant in
# "Find an integration by Apple ID".
query RecentRunsAndWarnings($userId: ID) {
  calendarIntegrations(userId: $userId) {
    id
    accountEmail
    status
    statusMessage
    lastSyncedAt
    recentSyncRuns {
      id outcome startedAt finishedAt
      requests created updated deleted warnings error
    }
  }
  conflictWarnings(userId: $userId, resolved: false) {
    id kind message startsAt endsAt createdAt appointmentId
  }
}
`,
    variables: vars({ userId: 'alice' }),
  },
  {
    title: 'Integrations in trouble',
    description: 'Every integration in ERROR (or NEEDS_RECONNECT: change the variable), with why and when it is retried.',
    tab: false,
    query: `query IntegrationsInTrouble($status: IntegrationStatus!, $after: String) {
  supportIntegrations(filter: { status: $status }, first: 50, after: $after) {
    nodes { id tenantId userId accountEmail statusMessage lastSyncedAt nextSyncAt failureCount }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
`,
    variables: vars({ status: 'ERROR' }),
  },
  {
    title: 'Sync runs of one integration',
    description: 'Up to 100 runs of one of your own integrations, newest first.',
    tab: false,
    query: `query SyncRuns($integrationId: ID!) {
  syncRuns(integrationId: $integrationId, limit: 20) {
    id outcome startedAt finishedAt
    requests created updated deleted warnings error
  }
}
`,
    variables: vars({ integrationId: '' }),
  },
  {
    title: 'Explain a slot',
    description: "Why can't my client book 3 pm? Whether a slot is bookable (exactly when availableSlots offers it), what is wrong with the slot itself, and per member what is in the way.",
    tab: true,
    query: `# Why is a slot offered or not? reasons: the slot itself (OUTSIDE_OPEN_HOURS,
# OFF_GRID, MIN_NOTICE, BEYOND_BOOKING_WINDOW, SEATS_TAKEN). members: who is
# free, and what blocks the others (CRM_APPOINTMENT with its id, ICLOUD_BUSY
# with the iCloud calendar and interval; NOT_CONNECTED, NEEDS_RECONNECT).
query ExplainSlot($calendarId: ID!, $startsAt: DateTimeISO!) {
  explainAvailability(calendarId: $calendarId, startsAt: $startsAt) {
    startsAt endsAt bookable
    reasons { code message }
    members {
      userId free
      reasons { code message calendarName startsAt endsAt appointmentId title }
    }
  }
}
`,
    variables: vars({ calendarId: '', startsAt: tomorrowAt15() }),
  },
  {
    title: 'Sync now',
    description: 'Syncs an integration at once and returns the finished run (the one write support may do).',
    tab: true,
    query: `mutation SyncNow($integrationId: ID!) {
  syncNow(integrationId: $integrationId) {
    id outcome requests created updated deleted warnings error
  }
}
`,
    variables: vars({ integrationId: '' }),
  },
  {
    title: 'Live sync results',
    description: 'Subscription (graphql-ws): one event per finished sync run you may see.',
    tab: true,
    query: `# Live over graphql-ws on /graphql: one event per finished sync run you
# may see (of one integration only: syncResults(integrationId: "…")).
subscription LiveSyncResults {
  syncResults {
    integrationId outcome finishedAt
    requests created updated deleted warnings error
  }
}
`,
  },
  {
    title: 'Live status changes',
    description: 'Subscription: an integration you may see changes status (e.g. to NEEDS_RECONNECT).',
    tab: false,
    query: `subscription LiveStatusChanges {
  integrationStatusChanged { id accountEmail status statusMessage lastSyncedAt }
}
`,
  },
  {
    title: 'Live conflict warnings',
    description: 'Subscription: each new DOUBLE_BOOKING, EDIT_CONFLICT and DELETED_IN_ICLOUD warning.',
    tab: false,
    query: `subscription LiveConflictWarnings {
  conflictWarnings {
    id kind message userId appointmentId startsAt endsAt createdAt
  }
}
`,
  },
];
