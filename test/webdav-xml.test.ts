import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TARGETS, type CalDavTarget, type TargetAccount } from '../dev/caldav-targets';
import { Phone, vevent } from '../dev/phone';
import { CalDavClient } from '../src/sync/caldav/caldav.client';
import { putObject } from '../src/sync/caldav/caldav-objects';
import { CalDavError } from '../src/sync/caldav/caldav.errors';
import { buildXml, el, findProp, hrefOf, NS, readInnerStatus, readMultistatus, textOf, type Multistatus } from '../src/sync/caldav/webdav-xml';

const HOST = 'dav.example.test';
const OPTIONS = { maxBytes: 1024 * 1024, host: HOST };

/** A real ReadableStream that delivers `chunks` one read at a time. */
function streamOf(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = chunks.map((c) => (typeof c === 'string' ? new TextEncoder().encode(c) : c));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

const read = (...chunks: (string | Uint8Array)[]) => readMultistatus(streamOf(...chunks), OPTIONS);

async function failure(promise: Promise<unknown>): Promise<CalDavError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof CalDavError) return e;
    throw e;
  }
  throw new Error('expected a CalDavError');
}

/** The same sync-collection answer written with three prefix conventions. */
const PREFIXED: [string, string][] = [
  [
    'a default namespace',
    `<?xml version="1.0" encoding="utf-8"?><multistatus xmlns="DAV:"><response><href>/cal/a.ics</href><propstat><prop><getetag>"1"</getetag></prop>` +
      `<status>HTTP/1.1 200 OK</status></propstat></response><sync-token>http://x/sync/2</sync-token></multistatus>`,
  ],
  [
    'the D: prefix',
    `<D:multistatus xmlns:D="DAV:">\n  <D:response>\n    <D:href>/cal/a.ics</D:href>\n    <D:propstat><D:prop><D:getetag>"1"</D:getetag></D:prop>` +
      `<D:status>HTTP/1.1 200 OK</D:status></D:propstat>\n  </D:response>\n  <D:sync-token>http://x/sync/2</D:sync-token>\n</D:multistatus>`,
  ],
  [
    'the ns0: prefix (Python ElementTree)',
    `<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/cal/a.ics</ns0:href><ns0:propstat><ns0:prop><ns0:getetag>"1"</ns0:getetag></ns0:prop>` +
      `<ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response><ns0:sync-token>http://x/sync/2</ns0:sync-token></ns0:multistatus>`,
  ],
];

describe('reading a 207 multistatus', () => {
  it.each(PREFIXED)('reads an answer written with %s', async (_, body) => {
    const answer = await read(body);
    expect(answer.syncToken).toBe('http://x/sync/2');
    expect(answer.responses).toHaveLength(1);
    const [r] = answer.responses;
    expect(r).toMatchObject({ href: '/cal/a.ics', status: null });
    expect(textOf(findProp(r, NS.DAV, 'getetag'))).toBe('"1"');
  });

  it('reads calendar-data sent as CDATA, line ends and all', async () => {
    const ics = 'BEGIN:VCALENDAR\nSUMMARY:a <b> & c ]]\nEND:VCALENDAR\n';
    const body =
      `<d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/c/x.ics</d:href><d:propstat><d:prop>` +
      `<cal:calendar-data><![CDATA[${ics}]]></cal:calendar-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`;
    const [r] = (await read(body)).responses;
    expect(findProp(r, NS.CALDAV, 'calendar-data')?.text).toBe(ics);
  });

  it('decodes entities and character references, keeping a CR written as &#13;', async () => {
    const body =
      `<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/c/R%26D.ics</href><propstat><prop>` +
      `<displayname>R&amp;D &lt;team&gt; &quot;x&quot; &#233;</displayname>` +
      `<C:calendar-data>BEGIN:VCALENDAR&#13;\nEND:VCALENDAR&#13;\n</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`;
    const [r] = (await read(body)).responses;
    expect(textOf(findProp(r, NS.DAV, 'displayname'))).toBe('R&D <team> "x" é');
    expect(findProp(r, NS.CALDAV, 'calendar-data')?.text).toBe('BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n');
  });

  it('yields one response per href when a response names several hrefs with one status', async () => {
    const body = `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/a.ics</D:href><D:href>/c/b.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response></D:multistatus>`;
    expect((await read(body)).responses).toEqual([
      { href: '/c/a.ics', status: 404, propstats: [] },
      { href: '/c/b.ics', status: 404, propstats: [] },
    ]);
  });

  it('reports a deleted member of a sync-collection answer with its 404 status, next to a changed one', async () => {
    const body =
      `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/gone.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>` +
      `<D:response><D:href>/c/new.ics</D:href><D:propstat><D:prop><D:getetag>"9"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>` +
      `<D:sync-token>t2</D:sync-token></D:multistatus>`;
    const answer = await read(body);
    expect(answer.responses.map((r) => [r.href, r.status])).toEqual([
      ['/c/gone.ics', 404],
      ['/c/new.ics', null],
    ]);
    expect(answer.syncToken).toBe('t2');
  });

  it('finds a property only in a 2xx propstat, not in the 404 propstat beside it', async () => {
    const body =
      `<d:multistatus xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:response><d:href>/c/</d:href>` +
      `<d:propstat><d:prop><d:displayname>Work</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>` +
      `<d:propstat><d:prop><a:calendar-color/><d:displayname>wrong</d:displayname></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>` +
      `</d:response></d:multistatus>`;
    const [r] = (await read(body)).responses;
    expect(r.propstats.map((p) => p.status)).toEqual([200, 404]);
    expect(textOf(findProp(r, NS.DAV, 'displayname'))).toBe('Work');
    expect(findProp(r, NS.APPLE, 'calendar-color')).toBeUndefined();
  });

  it('keeps a multibyte character that arrives split across two chunks', async () => {
    const bytes = new TextEncoder().encode(`<multistatus xmlns="DAV:"><response><href>/c/</href><propstat><prop><displayname>Kalender 🗓 für Zoë</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`);
    const cut = bytes.indexOf(0xf0) + 2; // inside the four bytes of the emoji
    const [r] = (await read(bytes.subarray(0, cut), bytes.subarray(cut))).responses;
    expect(textOf(findProp(r, NS.DAV, 'displayname'))).toBe('Kalender 🗓 für Zoë');
  });

  it('gives the event loop turns while it reads a large answer that arrives in one chunk', async () => {
    const one = `<response><href>/c/x.ics</href><propstat><prop><getetag>"${'e'.repeat(200)}"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>`;
    const body = `<multistatus xmlns="DAV:">${one.repeat(5000)}</multistatus>`; // about 1.3 MB
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const answer = await readMultistatus(streamOf(body), { maxBytes: 4 * 1024 * 1024, host: HOST });
    running = false;
    expect(answer.responses).toHaveLength(5000);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(body.length / (64 * 1024)));
  });

  it('refuses malformed XML as BAD_RESPONSE naming the host', async () => {
    const e = await failure(read('<multistatus xmlns="DAV:"><response><href>/x</oops>'));
    expect(e.failure).toBe('BAD_RESPONSE');
    expect(e.message).toMatch(new RegExp(`${HOST} sent malformed XML`));
  });

  it('refuses an answer cut short at a clean end of stream as malformed', async () => {
    const e = await failure(read('<multistatus xmlns="DAV:"><response><href>/x</href>'));
    expect(e).toMatchObject({ failure: 'BAD_RESPONSE', message: expect.stringContaining('malformed XML') });
  });

  it('refuses a DOCTYPE with entities (billion laughs) without expanding them', async () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE multistatus [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
      '<multistatus xmlns="DAV:"><response><href>/x</href><propstat><prop><displayname>&lol3;</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>';
    const e = await failure(read(laughs));
    expect(e.failure).toBe('BAD_RESPONSE');
    expect(e.message).toBe(`${HOST} sent an answer with a DOCTYPE, which is refused`);
  });

  it.each([
    ['a WebDAV error', '<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>', /<error> in namespace DAV:/],
    ['a multistatus in no namespace', '<multistatus><response/></multistatus>', /<multistatus> in no namespace/],
    ['an HTML page', '<html><body>Service Unavailable</body></html>', /<html> in no namespace/],
  ])('refuses %s as not a multistatus', async (_, body, message) => {
    const e = await failure(read(body));
    expect(e.failure).toBe('BAD_RESPONSE');
    expect(e.message).toMatch(message);
  });

  it('refuses an empty body as BAD_RESPONSE', async () => {
    expect(await failure(read())).toMatchObject({ failure: 'BAD_RESPONSE', message: `${HOST} answered with an empty body instead of a WebDAV multistatus` });
    expect(await failure(readMultistatus(null, OPTIONS))).toMatchObject({ failure: 'BAD_RESPONSE' });
  });

  it('stops reading an answer over the limit and cancels its stream at once', async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('<multistatus xmlns="DAV:">'));
      },
      pull(controller) {
        pulls++;
        controller.enqueue(new TextEncoder().encode(`<response><href>/c/${'x'.repeat(1000)}</href><status>HTTP/1.1 200 OK</status></response>`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const e = await failure(readMultistatus(endless, { maxBytes: 10_000, host: HOST }));
    expect(e).toMatchObject({ failure: 'BAD_RESPONSE', message: `${HOST} sent an answer larger than 10000 bytes: the answer was not used` });
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(15);
  });

  it('reports a stream that errors midway as UNAVAILABLE: the connection broke off', async () => {
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new TypeError('terminated'));
        sent = true;
        controller.enqueue(new TextEncoder().encode('<multistatus xmlns="DAV:"><response><href>/c/a.ics</href>'));
      },
    });
    const e = await failure(readMultistatus(broken, OPTIONS));
    expect(e).toMatchObject({ failure: 'UNAVAILABLE', message: `the connection to ${HOST} broke off while reading its answer` });
  });

  it('reads the status inside a 207 answer to a write, and null from a body that is not a multistatus', async () => {
    const rejected = `<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/c/x.ics</ns0:href><ns0:status>HTTP/1.1 412 Precondition Failed</ns0:status></ns0:response></ns0:multistatus>`;
    expect(await readInnerStatus(streamOf(rejected), OPTIONS)).toBe(412);
    const inPropstat = `<multistatus xmlns="DAV:"><response><href>/c/x.ics</href><propstat><prop/><status>HTTP/1.1 409 Conflict</status></propstat></response></multistatus>`;
    expect(await readInnerStatus(streamOf(inPropstat), OPTIONS)).toBe(409);
    expect(await readInnerStatus(streamOf('not xml at all'), OPTIONS)).toBeNull();
    expect(await readInnerStatus(null, OPTIONS)).toBeNull();
  });
});

describe('building a request body', () => {
  it('declares d, c, cs and a for the CalDAV namespaces and generated prefixes for others', () => {
    const xml = buildXml(
      el(NS.DAV, 'propfind', [el(NS.DAV, 'prop', [el(NS.CALDAV, 'calendar-data'), el(NS.CS, 'getctag'), el(NS.APPLE, 'calendar-color'), el('urn:example:x', 'thing'), el('urn:example:y', 'other')])]),
    );
    expect(xml).toBe(
      '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" ' +
        'xmlns:a="http://apple.com/ns/ical/" xmlns:ns0="urn:example:x" xmlns:ns1="urn:example:y"><d:prop><c:calendar-data/><cs:getctag/><a:calendar-color/>' +
        '<ns0:thing/><ns1:other/></d:prop></d:propfind>',
    );
  });

  it('escapes text and attribute values', () => {
    const xml = buildXml(el(NS.CALDAV, 'comp-filter', ['a<b>&c\r\n"q"'], { name: 'V"E<N>T&\n' }));
    expect(xml).toBe('<?xml version="1.0" encoding="utf-8"?><c:comp-filter xmlns:c="urn:ietf:params:xml:ns:caldav" name="V&quot;E&lt;N&gt;T&amp;&#10;">a&lt;b&gt;&amp;c&#13;\n"q"</c:comp-filter>');
  });

  it('refuses a name that is not an XML name and text XML cannot carry', () => {
    expect(() => buildXml(el(NS.DAV, 'a b'))).toThrow(RangeError);
    expect(() => buildXml(el(NS.DAV, 'x', ['nul \u0000']))).toThrow(RangeError);
  });

  it('writes what the reader reads back unchanged', async () => {
    const odd = 'R&D <team> "quoted" \'single\' ]]> é 🗓\r\nline two';
    const xml = buildXml(
      el(NS.DAV, 'multistatus', [
        el(NS.DAV, 'response', [
          el(NS.DAV, 'href', ['/c/a&b.ics']),
          el(NS.DAV, 'propstat', [el(NS.DAV, 'prop', [el(NS.DAV, 'displayname', [odd]), el('urn:example:x', 'thing', [], { kind: 'a"<b' })]), el(NS.DAV, 'status', ['HTTP/1.1 200 OK'])]),
        ]),
        el(NS.DAV, 'sync-token', ['tok&1']),
      ]),
    );
    const answer: Multistatus = await read(xml);
    expect(answer.syncToken).toBe('tok&1');
    const [r] = answer.responses;
    expect(r.href).toBe('/c/a&b.ics');
    expect(findProp(r, NS.DAV, 'displayname')?.text).toBe(odd);
    expect(findProp(r, 'urn:example:x', 'thing')?.attrs).toEqual({ kind: 'a"<b' });
  });
});

/** A tiny CalDAV server on 127.0.0.1 that answers each (method, path) with a fixed body. */
async function fixedServer(routes: Record<string, (res: ServerResponse) => void>): Promise<{ url: string; server: Server }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const route = routes[`${req.method} ${req.url}`];
    if (route) route(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const xml207 = (body: string) => (res: ServerResponse) => res.writeHead(207, { 'Content-Type': 'text/xml; charset=utf-8' }).end(body);

describe('CalDavClient against a local server with odd prefixes', () => {
  let url: string;
  let server: Server;
  let client: CalDavClient;

  beforeAll(async () => {
    ({ url, server } = await fixedServer({
      'PROPFIND /': xml207(`<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/</ns0:href><ns0:propstat><ns0:prop><ns0:current-user-principal>
        <ns0:href> /p/ </ns0:href></ns0:current-user-principal></ns0:prop><ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response></ns0:multistatus>`),
      'PROPFIND /p/': xml207(
        `<multistatus xmlns="DAV:"><response><href>/p/</href><propstat><prop><calendar-home-set xmlns="urn:ietf:params:xml:ns:caldav"><href xmlns="DAV:">/h/</href>` +
          `</calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`,
      ),
      'PROPFIND /h/': xml207(
        `<D:multistatus xmlns:D="DAV:" xmlns:X="urn:ietf:params:xml:ns:caldav" xmlns:Y="http://calendarserver.org/ns/" xmlns:Z="http://apple.com/ns/ical/">` +
          `<D:response><D:href>/h/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>` +
          `<D:response><D:href>/h/work/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><X:calendar/></D:resourcetype><D:displayname>Work &amp; play</D:displayname>` +
          `<X:supported-calendar-component-set><X:comp name="VEVENT"/></X:supported-calendar-component-set><Z:calendar-color>#FF2968FF</Z:calendar-color><Y:getctag>c1</Y:getctag>` +
          `<D:sync-token>s1</D:sync-token><D:current-user-privilege-set><D:privilege><D:read/></D:privilege><D:privilege><D:write-content/></D:privilege></D:current-user-privilege-set>` +
          `</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>` +
          `<D:response><D:href>/h/tasks/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><X:calendar/></D:resourcetype>` +
          `<X:supported-calendar-component-set><X:comp name="VTODO"/></X:supported-calendar-component-set></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>` +
          `<D:response><D:href>/h/sub/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/><X:calendar/><Y:subscribed/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>` +
          `<D:propstat><D:prop><D:displayname/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>` +
          `</D:multistatus>`,
      ),
      'REPORT /h/work/': xml207(
        `<multistatus xmlns="DAV:"><response><href>/h/work/</href><propstat><prop><getetag>"c"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>` +
          `<response><href>/h/work/a.ics</href><propstat><prop><getetag>"a1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>` +
          `<response><href>/h/work/b.ics</href><href>/h/work/c.ics</href><status>HTTP/1.1 404 Not Found</status></response><sync-token>s2</sync-token></multistatus>`,
      ),
      'REPORT /h/empty/': xml207(`<?xml version="1.0"?><ns0:multistatus xmlns:ns0="DAV:"><ns0:sync-token>s9</ns0:sync-token></ns0:multistatus>`),
      'REPORT /h/objects/': xml207(
        `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/h/objects/a.ics</D:href><D:propstat><D:prop><D:getetag>"a1"</D:getetag>` +
          `<calendar-data xmlns="urn:ietf:params:xml:ns:caldav"><![CDATA[BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n]]></calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>` +
          `<D:response><D:href>/h/objects/gone.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response></D:multistatus>`,
      ),
      'REPORT /h/notoken/': xml207(`<multistatus xmlns="DAV:"/>`),
      'PROPFIND /h/error/': xml207(`<error xmlns="DAV:"><propfind-finite-depth/></error>`),
      'PROPFIND /h/cut/': (res) => {
        res.writeHead(207, { 'Content-Type': 'text/xml' });
        res.write(`<multistatus xmlns="DAV:"><response><href>/h/cut/a.ics</href>`);
        setTimeout(() => res.socket?.destroy(), 20);
      },
    }));
    client = new CalDavClient({ serverUrl: `${url}/`, username: 'u', password: 'p', timeoutMs: 5000 });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('discovers the principal, the home and its VEVENT calendars whatever the prefixes', async () => {
    const discovery = await client.discover();
    expect(discovery).toEqual({
      principalUrl: `${url}/p/`,
      homeUrl: `${url}/h/`,
      calendars: [
        { href: `${url}/h/work/`, name: 'Work & play', color: '#FF2968', writable: true, ctag: 'c1', syncToken: 's1' },
        { href: `${url}/h/sub/`, name: 'sub', color: null, writable: false, ctag: null, syncToken: null },
      ],
    });
  });

  it('reads a sync-collection answer: changes, deletions named together, and the new token', async () => {
    expect(await client.syncCollection(`${url}/h/work/`, 's1')).toEqual({
      changed: [{ href: `${url}/h/work/a.ics`, etag: '"a1"' }],
      removed: [`${url}/h/work/b.ics`, `${url}/h/work/c.ics`],
      token: 's2',
    });
  });

  it('reads an empty sync-collection answer as no change with its token, and refuses one without a token', async () => {
    expect(await client.syncCollection(`${url}/h/empty/`, 's8')).toEqual({ changed: [], removed: [], token: 's9' });
    expect(await failure(client.syncCollection(`${url}/h/notoken/`, 's8'))).toMatchObject({ failure: 'BAD_RESPONSE', message: expect.stringContaining('without a sync-token') });
  });

  it('reads CDATA calendar data and leaves out objects reported missing', async () => {
    // A literal CRLF reaches the reader as LF, CDATA or not (XML 1.0 section 2.11); iCalendar parsers take either.
    expect(await client.multiget(`${url}/h/objects/`, [`${url}/h/objects/a.ics`, `${url}/h/objects/gone.ics`])).toEqual([
      { href: `${url}/h/objects/a.ics`, etag: '"a1"', data: 'BEGIN:VCALENDAR\nEND:VCALENDAR' },
    ]);
  });

  it('refuses an answer that is not a multistatus as BAD_RESPONSE', async () => {
    expect(await failure(client.listMembers(`${url}/h/error/`))).toMatchObject({ failure: 'BAD_RESPONSE', message: expect.stringMatching(/127\.0\.0\.1:\d+ answered with <error>/) });
  });

  it('reports an answer that breaks off as UNAVAILABLE', async () => {
    expect(await failure(client.listMembers(`${url}/h/cut/`))).toMatchObject({ failure: 'UNAVAILABLE', message: expect.stringMatching(/the connection to 127\.0\.0\.1:\d+ broke off/) });
  });

  it('maps an HTTP error status as before', async () => {
    expect(await failure(client.getCtag(`${url}/nowhere/`))).toMatchObject({ failure: 'BAD_RESPONSE', status: 404 });
  });
});

/** CalDavClient reading the answers of the real servers, with another client (the phone) writing events. */
describe.each(TARGETS)('CalDavClient reads the answers of $name', ({ name, start }) => {
  let target: CalDavTarget;
  let account: TargetAccount;
  let client: CalDavClient;
  let phone: Phone;

  beforeAll(async () => {
    target = await start();
    account = await target.newAccount();
    client = new CalDavClient({ serverUrl: account.serverUrl, username: account.appleId, password: account.appSpecificPassword, timeoutMs: 10000 });
    phone = new Phone(target, account);
  });
  afterAll(async () => {
    await target?.stop();
  });

  it('discovers the home and lists the VEVENT calendars with their names, colours and tokens', async () => {
    const discovery = await client.discover();
    expect(discovery.homeUrl).toBe(account.homeUrl);
    const listed = discovery.calendars.map((c) => ({ name: c.name, writable: c.writable })).sort((a, b) => a.name.localeCompare(b.name));
    expect(listed).toEqual([...account.calendars].sort((a, b) => a.name.localeCompare(b.name)));
    const work = discovery.calendars.find((c) => c.name === account.primary.name)!;
    expect(work.href).toBe(phone.calendarUrl(account.primary.slug));
    expect(work.syncToken).toEqual(expect.any(String));
    if (name !== 'xandikos') expect(work.color).toBe('#FF2968');
    expect(await client.listCalendars(account.homeUrl)).toEqual(discovery.calendars);
  });

  it('follows an event the phone puts and deletes through sync-collection, listing, multiget, query and getctag', async () => {
    const calendar = phone.calendarUrl(account.primary.slug);
    const initial = await client.syncCollection(calendar, '');
    expect(initial).toMatchObject({ changed: [], removed: [] });
    const ctagBefore = await client.getCtag(calendar);

    const href = await phone.put(account.primary.slug, vevent('xml-1', '2030-01-02T09:00:00Z', '2030-01-02T10:00:00Z', 'R&D <review> ünïcode'));
    const changed = await client.syncCollection(calendar, initial.token);
    expect(changed.changed.map((m) => m.href)).toEqual([href]);
    expect(changed.changed[0].etag).not.toBe('');
    expect(changed.token).not.toBe(initial.token);
    expect(await client.listMembers(calendar)).toEqual(changed.changed);

    const [fetched] = await client.multiget(calendar, [href]);
    expect(fetched).toMatchObject({ href, etag: changed.changed[0].etag });
    expect(fetched.data).toMatch(/^BEGIN:VCALENDAR\r?\n/);
    expect(fetched.data).toContain('SUMMARY:R&D <review> ünïcode');
    expect(await client.fetchAll(calendar)).toEqual([fetched]);
    if (ctagBefore !== null) expect(await client.getCtag(calendar)).not.toBe(ctagBefore);

    await phone.delete(href);
    const removed = await client.syncCollection(calendar, changed.token);
    expect(removed).toMatchObject({ changed: [], removed: [href] });
  });

  it('refuses a bogus sync token with the status the server sends', async () => {
    const e = await failure(client.syncCollection(phone.calendarUrl(account.primary.slug), 'http://example.com/ns/sync/bogus'));
    expect(e.status).toBe(name === 'xandikos' ? 500 : 403);
  });

  if (name === 'xandikos') {
    it('reads the 412 inside the 207 Xandikos answers to a PUT of a UID stored under another href', async () => {
      const ics = vevent('dup-uid', '2030-01-03T09:00:00Z', '2030-01-03T10:00:00Z', 'Dup');
      await phone.put(account.primary.slug, ics);
      const calendar = phone.calendarUrl(account.primary.slug);
      const raw = await target.request(account, new URL('raw-name.ics', calendar).href, { method: 'PUT', body: ics, headers: { 'content-type': 'text/calendar' } });
      expect(raw.status).toBe(207);
      expect(await putObject(client, new URL('other-name.ics', calendar).href, ics, { ifNoneMatch: '*' })).toEqual({ ok: false, preconditionFailed: true });
    });
  }
});

it('reads hrefs of href-valued properties', () => {
  const prop = { ns: NS.DAV, name: 'current-user-principal', attrs: {}, text: '\n', children: [{ ns: NS.DAV, name: 'href', attrs: {}, text: ' /p/ ', children: [] }] };
  expect(hrefOf(prop)).toBe('/p/');
  expect(hrefOf({ ...prop, children: [] })).toBeUndefined();
  expect(hrefOf(undefined)).toBeUndefined();
});
