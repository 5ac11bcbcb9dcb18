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
const inAWeek = () => {
  const from = new Date();
  from.setUTCHours(0, 0, 0, 0);
  return { from: from.toISOString(), to: new Date(from.getTime() + 7 * 86400000).toISOString() };
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
    description: "A user's connected accounts: the Apple ID is accountEmail. Admins and support may name any user of the token's tenant.",
    tab: true,
    query: `# Find the integration of an Apple ID: list a user's accounts and look
# for the Apple ID in accountEmail (admins and support: any user of the
# token's tenant; users: themselves).
query FindIntegration($userId: ID) {
  calendarIntegrations(userId: $userId) {
    id
    accountEmail
    status
    statusMessage
    lastSyncedAt
    calendars { id name writable isPrimary checkForConflicts }
  }
}
`,
    variables: vars({ userId: 'alice' }),
  },
  {
    title: 'Recent runs and warnings',
    description: "An account's last five sync runs (requests, counts, warnings, error) and the user's open conflict warnings.",
    tab: true,
    query: `# The last five sync runs of each of a user's accounts, and the
# user's open conflict warnings.
query RecentRunsAndWarnings($userId: ID) {
  calendarIntegrations(userId: $userId) {
    id
    accountEmail
    status
    statusMessage
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
    description: "Why a slot is (not) offered: the calendar's rules, the slots with the members free for each, and a member's busy time.",
    tab: true,
    query: `# Why is a slot offered or not? The calendar's rules (open hours,
# buffers, notice, window), the slots with the members free for each, and
# a member's busy time in the window (local index: no request to iCloud).
query ExplainSlot(
  $calendarId: ID!
  $from: DateTimeISO!
  $to: DateTimeISO!
  $userId: ID
  $timezone: String
) {
  crmCalendar(id: $calendarId) {
    name type timezone slotDurationMinutes slotIntervalMinutes
    bufferBeforeMinutes bufferAfterMinutes minNoticeMinutes bookingWindowDays seatsPerSlot
    openHours { weekday start end }
    teamMembers { userId isPrimary priority }
  }
  availableSlots(calendarId: $calendarId, from: $from, to: $to, timezone: $timezone) {
    startsAt startsAtLocal endsAt availableUserIds seatsLeft
  }
  blockedTimes(userId: $userId, from: $from, to: $to) { calendarId startsAt endsAt title }
}
`,
    variables: vars({ calendarId: '', userId: 'alice', ...inAWeek(), timezone: 'Europe/Berlin' }),
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
