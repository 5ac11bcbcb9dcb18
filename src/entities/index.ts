import { Appointment, AppointmentAssignee } from './appointment.entity';
import { BusyInterval } from './busy-interval.entity';
import { CalendarIntegration } from './calendar-integration.entity';
import { ConflictWarning } from './conflict-warning.entity';
import { ConnectBudget } from './connect-budget.entity';
import { Contact } from './contact.entity';
import { CrmCalendar, CrmCalendarMember } from './crm-calendar.entity';
import { ExternalCalendar } from './external-calendar.entity';
import { ExternalEvent } from './external-event.entity';
import { IntegrationStatusChange } from './integration-status-change.entity';
import { OutboxEntry } from './outbox-entry.entity';
import { AppointmentSyncLink } from './sync-link.entity';
import { SyncRun } from './sync-run.entity';
import { User } from './user.entity';

/** Every entity, listed explicitly so that nothing is discovered by scanning files. */
export const ENTITIES = [
  User,
  CalendarIntegration,
  IntegrationStatusChange,
  ExternalCalendar,
  ExternalEvent,
  BusyInterval,
  SyncRun,
  ConnectBudget,
  CrmCalendar,
  CrmCalendarMember,
  Contact,
  Appointment,
  AppointmentAssignee,
  AppointmentSyncLink,
  OutboxEntry,
  ConflictWarning,
];
