import { GraphQLError, parse, type DocumentNode } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { verifyToken, type Principal } from './auth/jwt';
import { AppError } from './errors';
import { refuseOversized } from './graphql-limits';
import { supportWriteRefusal } from './resolvers/visibility';

/** What one caller may hold open on one instance. */
export const WS_LIMITS = { socketsPerUser: 20, subscriptionsPerSocket: 50, subscriptionsPerUser: 200 };

type Ctx = WsContext<Record<string, unknown>, Extra & Partial<{ principal: Principal }>>;

/** Close codes of our own (RFC 6455 section 7.4.2: 4000-4999 are the application's). */
const UNAUTHORIZED = 4401;
const TOO_MANY = 4429;

/**
 * The WebSocket side of access control and limits, for graphql-ws's `onConnect` and `onSubscribe`: the
 * token is checked once and the socket closes when it expires; sockets per user and subscriptions per
 * socket and per user are bounded (one caller must not hold the memory of many); oversized documents are
 * refused before graphql-ws parses them.
 */
export function createWsPolicy(jwtSecret: string, limits = WS_LIMITS) {
  const socketsByUser = new Map<string, Set<Ctx>>();
  const userKey = (p: Principal) => `${p.tenantId}\u0000${p.sub}`;
  const refuse = (message: string) => [new GraphQLError(message, { extensions: { code: 'TOO_MANY_REQUESTS' } })];

  return {
    /** Accepts the connection (true) or closes it with 4401 or 4429 and the reason (false). */
    onConnect(ctx: Ctx): boolean {
      let principal: Principal;
      try {
        principal = verifyToken(ctx.connectionParams?.authorization as string | undefined, jwtSecret);
      } catch (e) {
        // graphql-ws would close with a bare 4403; say why.
        ctx.extra.socket.close(UNAUTHORIZED, e instanceof AppError ? e.message : 'Invalid token.');
        return false;
      }
      const sockets = socketsByUser.get(userKey(principal)) ?? new Set<Ctx>();
      if (sockets.size >= limits.socketsPerUser) {
        ctx.extra.socket.close(TOO_MANY, `At most ${limits.socketsPerUser} connections per user: close one first.`);
        return false;
      }
      ctx.extra.principal = principal;
      sockets.add(ctx);
      socketsByUser.set(userKey(principal), sockets);
      // A socket lives on its token: when it expires, subscriptions end and the client must sign in again.
      const expiry = setTimeout(() => ctx.extra.socket.close(UNAUTHORIZED, 'Token expired: get a new token.'), Math.min(2 ** 31 - 1, Math.max(0, principal.expiresAt! * 1000 - Date.now())));
      expiry.unref();
      ctx.extra.socket.once('close', () => {
        clearTimeout(expiry);
        sockets.delete(ctx);
        if (sockets.size === 0) socketsByUser.delete(userKey(principal));
      });
      return true;
    },

    /** Subscriptions open on this instance (for the metrics). */
    openSubscriptions(): number {
      let open = 0;
      for (const sockets of socketsByUser.values()) for (const s of sockets) open += Object.keys(s.subscriptions).length;
      return open;
    },

    /** Returns the errors that refuse a new subscription, or undefined to let graphql-ws go on. */
    onSubscribe(ctx: Ctx, payload: { query?: unknown; variables?: unknown }): GraphQLError[] | undefined {
      const oversized = refuseOversized(payload);
      if (oversized) return [oversized];
      if (ctx.extra.principal?.role === 'support' && typeof payload.query === 'string') {
        let document: DocumentNode | undefined;
        try {
          document = parse(payload.query);
        } catch {
          // graphql-ws answers the syntax error itself.
        }
        const refused = document && supportWriteRefusal(ctx.extra.principal, document, (payload as { operationName?: string }).operationName);
        if (refused) return [refused];
      }
      // graphql-ws has already registered this one in `ctx.subscriptions`.
      const here = Object.keys(ctx.subscriptions).length;
      if (here > limits.subscriptionsPerSocket) return refuse(`At most ${limits.subscriptionsPerSocket} subscriptions per connection.`);
      const sockets = socketsByUser.get(userKey(ctx.extra.principal!)) ?? new Set<Ctx>();
      const total = [...sockets].reduce((n, s) => n + Object.keys(s.subscriptions).length, 0);
      if (total > limits.subscriptionsPerUser) return refuse(`At most ${limits.subscriptionsPerUser} subscriptions per user.`);
      return undefined;
    },
  };
}
