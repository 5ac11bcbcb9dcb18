// Baseline of bench/slots.ts: verifyToken of src/auth/jwt.ts as it was before (the key rebuilt from the string on every check).
import jwt from 'jsonwebtoken';
import { ROLES, type Principal } from '../../src/auth/jwt';
import { AppError } from '../../src/errors';

export function verifyToken(header: string | undefined, secret: string): Principal {
  const token = header?.replace(/^Bearer\s+/i, '').trim();
  if (!token) throw new AppError('UNAUTHENTICATED', 'Missing token: send "Authorization: Bearer <JWT>".');
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secret, { algorithms: ['HS256'] }) as jwt.JwtPayload;
  } catch (e) {
    const expired = e instanceof jwt.TokenExpiredError;
    throw new AppError('UNAUTHENTICATED', expired ? 'Token expired: get a new token.' : 'Invalid token.');
  }
  const { sub, tenantId, role, timezone, exp } = claims;
  const present = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  if (!present(sub) || !present(tenantId) || !ROLES.includes(role) || typeof exp !== 'number') {
    throw new AppError('UNAUTHENTICATED', 'Token must carry a non-empty "sub" and "tenantId", a "role" (user, admin or support) and an expiry ("exp").');
  }
  return { sub, tenantId, role, timezone: typeof timezone === 'string' ? timezone : undefined, expiresAt: exp };
}
