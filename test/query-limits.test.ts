import { codeOf, dataOf, startTestApp, type TestApp } from '../dev/app';

describe('the GraphQL endpoint: query limits and CORS', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ caldavUrl: 'https://caldav.icloud.com', env: { CORS_ORIGINS: 'https://crm.example.com' } });
  });
  afterAll(() => app?.close());

  it('refuses a query nested deeper than 8 levels before running it', async () => {
    const deep = '{ viewer ' + '{ a '.repeat(9) + '}'.repeat(9) + ' }';
    const res = await app.gql(app.token('alice'), deep);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors!.map((e) => e.message)).toContainEqual(expect.stringMatching(/depth limit of 8 exceeded/));
  });

  it('refuses a query whose cost exceeds the limit', async () => {
    const costly = `{ calendarIntegrations { calendars { ${'id name '.repeat(1250)} } } }`;
    const res = await app.gql(app.token('alice'), costly);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors!.map((e) => e.message)).toContainEqual(expect.stringMatching(/Cost limit of 5000 exceeded/));
  });

  it('refuses more than 15 aliases', async () => {
    const res = await app.gql(app.token('alice'), `{ ${Array.from({ length: 16 }, (_, i) => `v${i}: viewer { id }`).join(' ')} }`);
    expect(res.errors![0].message).toMatch(/Aliases limit of 15 exceeded/);
  });

  it('still answers an ordinary front-end query', async () => {
    const res = await app.gql(app.token('alice'), `{ viewer { id timezone } calendarIntegrations { id status calendars { id name isPrimary } } }`);
    expect(dataOf(res)).toEqual({ viewer: { id: 'alice', timezone: 'UTC' }, calendarIntegrations: [] });
  });

  it('answers a browser front end of a listed origin with CORS headers, and no other origin', async () => {
    const preflight = (origin: string) => fetch(app.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect((await preflight('https://crm.example.com')).headers.get('access-control-allow-origin')).toBe('https://crm.example.com');
    expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
  });
});
