import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ROLES, signToken, type Role } from '../src/auth/jwt';
import { loadConfig } from '../src/config';

/** `npm run token -- --user U --tenant T --role admin [--timezone Europe/Berlin] [--days 1]`: prints a JWT. */
const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'user-1' },
    tenant: { type: 'string', default: 'tenant-1' },
    role: { type: 'string', default: 'user' },
    timezone: { type: 'string' },
    days: { type: 'string', default: '1' },
  },
});
if (!ROLES.includes(values.role as Role)) {
  console.error(`--role must be one of ${ROLES.join(', ')}`);
  process.exit(2);
}
const config = loadConfig();
const token = signToken(
  { sub: values.user!, tenantId: values.tenant!, role: values.role as Role, timezone: values.timezone },
  config.jwtSecret,
  Number(values.days) * 86400,
);
process.stdout.write(token + '\n');
