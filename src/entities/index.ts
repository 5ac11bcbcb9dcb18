import { CalendarIntegration } from './calendar-integration.entity';
import { ConnectAttempt } from './connect-attempt.entity';
import { ExternalCalendar } from './external-calendar.entity';
import { User } from './user.entity';

/** Every entity, listed explicitly so that nothing is discovered by scanning files. */
export const ENTITIES = [User, CalendarIntegration, ExternalCalendar, ConnectAttempt];
