import { codeOf, dataOf, startTestApp, type TestApp } from './harness/app';

describe('query limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ caldavUrl: 'https://caldav.icloud.com' });
  });
  afterAll(() => app?.close());

  it('refuses a query nested deeper than 8 levels before running it', async () => {
    const deep = '{ viewer ' + '{ a '.repeat(9) + '}'.repeat(9) + ' }';
    const res = await app.gql(app.token('alice'), deep);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors!.map((e) => e.message)).toContainEqual(expect.stringMatching(/depth limit of 8 exceeded/));
  });

  it('refuses a query whose cost exceeds the limit', async () => {
    const costly = `{ calendarIntegrations { calendars { ${'id name '.repeat(1500)} } } }`;
    const res = await app.gql(app.token('alice'), costly);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors![0].message).toMatch(/Cost limit of 5000 exceeded/);
  });

  it('refuses more than 15 aliases', async () => {
    const res = await app.gql(app.token('alice'), `{ ${Array.from({ length: 16 }, (_, i) => `v${i}: viewer { id }`).join(' ')} }`);
    expect(res.errors![0].message).toMatch(/Aliases limit of 15 exceeded/);
  });

  it('still answers an ordinary front-end query', async () => {
    const res = await app.gql(app.token('alice'), `{ viewer { id timezone } calendarIntegrations { id status calendars { id name isPrimary } } }`);
    expect(dataOf(res)).toEqual({ viewer: { id: 'alice', timezone: 'UTC' }, calendarIntegrations: [] });
  });
});
