import { BusyInterval } from './busy-interval.entity';
import { CalendarIntegration } from './calendar-integration.entity';
import { ConnectAttempt } from './connect-attempt.entity';
import { ExternalCalendar } from './external-calendar.entity';
import { ExternalEvent } from './external-event.entity';
import { SyncRun } from './sync-run.entity';
import { User } from './user.entity';

/** Every entity, listed explicitly so that nothing is discovered by scanning files. */
export const ENTITIES = [User, CalendarIntegration, ExternalCalendar, ExternalEvent, BusyInterval, SyncRun, ConnectAttempt];
