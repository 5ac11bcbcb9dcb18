import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError } from '../errors';

export const ROLES = ['user', 'admin', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** The caller as the CRM's token describes them. */
export interface Principal {
  /** The CRM's user id (JWT `sub`). */
  sub: string;
  tenantId: string;
  role: Role;
  /** IANA zone from the optional `timezone` claim, used as the user's initial zone. */
  timezone?: string;
  /** When the token expires (epoch seconds); set by `verifyToken`: a WebSocket is closed then. */
  expiresAt?: number;
}

/** Returns an HS256 token for `principal`, valid for `expiresInSeconds` (one day by default). */
export function signToken(principal: Principal, secret: string, expiresInSeconds = 86400): string {
  const { sub, expiresAt: _ignored, ...claims } = principal;
  return jwt.sign(claims, secret, { algorithm: 'HS256', subject: sub, expiresIn: expiresInSeconds });
}

/** HS256 key objects by secret: built once, not on every check (jsonwebtoken builds one per call from a string). */
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject | string {
  // An empty secret stays as it is: jsonwebtoken refuses it (no key material) as before.
  if (!secret) return secret;
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= 16) keys.clear();
    key = createSecretKey(Buffer.from(secret));
    keys.set(secret, key);
  }
  return key;
}

/** Tokens verified already, with the secret they were verified with: a front end sends the same one all day. */
const verified = new Map<string, { secret: string; principal: Principal }>();
const MAX_VERIFIED = 10000;

/**
 * Verifies a bearer token (with or without the `Bearer ` prefix) and returns its principal.
 * Throws `AppError('UNAUTHENTICATED')` when it is missing, expired, forged or lacks a claim.
 */
export function verifyToken(header: string | undefined, secret: string): Principal {
  const token = header?.replace(/^Bearer\s+/i, '').trim();
  if (!token) throw new AppError('UNAUTHENTICATED', 'Missing token: send "Authorization: Bearer <JWT>".');
  // Only a token that passed every check is remembered; its expiry is checked again on each use.
  const known = verified.get(token);
  if (known && known.secret === secret && known.principal.expiresAt! > Date.now() / 1000) return { ...known.principal };
  const principal = verifySignedToken(token, secret);
  if (verified.size >= MAX_VERIFIED) verified.clear();
  verified.set(token, { secret, principal: { ...principal } });
  return principal;
}

function verifySignedToken(token: string, secret: string): Principal {
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, keyOf(secret), { algorithms: ['HS256'] }) as jwt.JwtPayload;
  } catch (e) {
    const expired = e instanceof jwt.TokenExpiredError;
    throw new AppError('UNAUTHENTICATED', expired ? 'Token expired: get a new token.' : 'Invalid token.');
  }
  const { sub, tenantId, role, timezone, exp } = claims;
  const present = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  // A token without an expiry would be valid forever; an empty subject or tenant would share data between callers.
  if (!present(sub) || !present(tenantId) || !ROLES.includes(role) || typeof exp !== 'number') {
    throw new AppError('UNAUTHENTICATED', 'Token must carry a non-empty "sub" and "tenantId", a "role" (user, admin or support) and an expiry ("exp").');
  }
  return { sub, tenantId, role, timezone: typeof timezone === 'string' ? timezone : undefined, expiresAt: exp };
}
