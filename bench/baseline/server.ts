// Baseline of bench/slots.ts: the availableSlots query as the server answered it before the availability hot
// path was reworked (the same resolver body, the old slot engine, time zones through Intl, entities hydrated,
// the JWT key rebuilt per request), served by the same stack (express, Apollo, type-graphql with the same
// global middleware and limits). A copy for the benchmark's peer, never used by the server.
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Arg, Ctx, ID, Query, Resolver, buildSchema } from 'type-graphql';
import type { Context } from '../../src/context';
import { User } from '../../src/entities/user.entity';
import { AppError } from '../../src/errors';
import { limitRules, LIMITS } from '../../src/graphql-limits';
import type { Orm } from '../../src/orm';
import { TimeSlotType } from '../../src/resolvers/crm-calendar.types';
import { CrmCalendarService } from '../../src/services/crm-calendar.service';
import { checkRange } from '../../src/services/range';
import { isTimeZone } from '../../src/sync/ical/timezones';
import { availability } from './availability.service';
import { verifyToken } from './jwt';
import { formatLocal } from './zoned-time';

@Resolver()
class BaselineSlotsResolver {
  @Query(() => [TimeSlotType])
  async availableSlots(
    @Arg('calendarId', () => ID) calendarId: string,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('timezone', () => String, { nullable: true }) timezone: string | undefined,
    @Ctx() { em, principal }: Context,
  ): Promise<TimeSlotType[]> {
    checkRange(from, to, 31);
    if (timezone && !isTimeZone(timezone)) throw new AppError('BAD_USER_INPUT', `"${timezone}" is not an IANA time zone name.`);
    const calendar = await new CrmCalendarService().get(em, principal, calendarId, 'read');
    const zone = timezone ?? calendar.timezone;
    const slots = (await availability(em, calendar, from, to)).filter((s) => s.assignTo.length > 0);
    const ids = new Map((await em.find(User, { id: { $in: calendar.members.getItems().map((m) => m.user.id) } })).map((u) => [u.id, u.externalId]));
    return slots.map((s) => ({ startsAt: s.start, endsAt: s.end, startsAtLocal: formatLocal(s.start, zone), availableUserIds: s.availableUserIds.map((id) => ids.get(id)!), seatsLeft: s.seatsLeft }));
  }
}

/** Serves the baseline availableSlots at the returned URL, on the same database as `orm`. */
export async function startBaselineServer(orm: Orm, jwtSecret: string): Promise<{ url: string; close(): Promise<void> }> {
  const schema = await buildSchema({ resolvers: [BaselineSlotsResolver], validate: true });
  const apollo = new ApolloServer<Context>({ schema, validationRules: limitRules, parseOptions: { maxTokens: LIMITS.maxTokens }, includeStacktraceInErrorResponses: false });
  await apollo.start();
  const app = express();
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        try {
          return { principal: verifyToken(req.headers.authorization, jwtSecret), em: orm.fork(), services: undefined as never };
        } catch (e) {
          throw new GraphQLError((e as Error).message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
        }
      },
    }),
  );
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    close: async () => {
      await apollo.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
