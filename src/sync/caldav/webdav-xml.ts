import { SaxesParser, type SaxesTagNS } from 'saxes';
import { CalDavError } from './caldav.errors';

/** The XML namespaces CalDAV clients speak (RFC 4918, RFC 4791, calendarserver.org and Apple extensions). */
export const NS = {
  DAV: 'DAV:',
  CALDAV: 'urn:ietf:params:xml:ns:caldav',
  CS: 'http://calendarserver.org/ns/',
  APPLE: 'http://apple.com/ns/ical/',
} as const;

// ---------------------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------------------

/** An element of a request body: namespace URI, local name, children (elements or text) and plain attributes. */
export interface XmlNode {
  ns: string;
  name: string;
  children: (XmlNode | string)[];
  attrs: Record<string, string>;
}

/**
 * Returns an element for `buildXml`. Strings among `children` are text, escaped when the body is built.
 * `attrs` are attributes without a namespace (as CalDAV's `name` on `comp-filter`).
 */
export function el(ns: string, name: string, children: (XmlNode | string)[] = [], attrs: Record<string, string> = {}): XmlNode {
  return { ns, name, children, attrs };
}

const PREFERRED_PREFIXES: Record<string, string> = { [NS.DAV]: 'd', [NS.CALDAV]: 'c', [NS.CS]: 'cs', [NS.APPLE]: 'a' };

// An NCName as far as this client ever writes one (XML Namespaces 1.0 section 3): ASCII is enough here.
const NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
// Characters XML 1.0 cannot carry at all, not even as a character reference (XML 1.0 section 2.2).
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new RangeError(`not an XML name: ${JSON.stringify(name)}`);
  return name;
}

function escapeText(value: string): string {
  if (NOT_XML_CHAR.test(value)) throw new RangeError('text holds a character XML cannot carry');
  // A literal CR would be read back as LF (XML 1.0 section 2.11): write it as a reference so it survives.
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

function escapeAttr(value: string): string {
  // Tabs and line ends in attributes are normalised to spaces on reading (XML 1.0 section 3.3.3) unless referenced.
  return escapeText(value).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');
}

/**
 * Returns the request body for `root` as a string that starts with the XML declaration. Prefixes are
 * chosen here and declared once on the root: `d` for DAV:, `c` for CalDAV, `cs` for calendarserver.org,
 * `a` for Apple's iCal namespace, `ns0`, `ns1`… for any other. Text and attribute values are escaped.
 * Throws `RangeError` for a name that is not an XML name or text with a character XML cannot carry.
 */
export function buildXml(root: XmlNode): string {
  const prefixes = new Map<string, string>();
  const prefixOf = (ns: string): string => {
    let prefix = prefixes.get(ns);
    if (prefix === undefined) {
      prefix = PREFERRED_PREFIXES[ns];
      for (let i = 0; prefix === undefined || [...prefixes.values()].includes(prefix); i++) prefix = `ns${i}`;
      prefixes.set(ns, prefix);
    }
    return prefix;
  };
  // Iterative rather than recursive: a body's depth is the caller's, but nothing here should depend on it.
  const parts: string[] = [];
  const stack: (XmlNode | string | { close: string })[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node === 'string') {
      parts.push(escapeText(node));
    } else if ('close' in node) {
      parts.push(node.close);
    } else {
      const tag = `${prefixOf(node.ns)}:${checkName(node.name)}`;
      const attrs = Object.entries(node.attrs)
        .map(([k, v]) => ` ${checkName(k)}="${escapeAttr(v)}"`)
        .join('');
      // Declarations go on the root once every prefix is known; mark its place.
      parts.push(node === root ? `<${tag}\u0000${attrs}` : `<${tag}${attrs}`);
      if (node.children.length === 0) {
        parts.push('/>');
      } else {
        parts.push('>');
        stack.push({ close: `</${tag}>` });
        for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
      }
    }
  }
  const declarations = [...prefixes].map(([ns, prefix]) => ` xmlns:${prefix}="${escapeAttr(ns)}"`).join('');
  parts[0] = parts[0].replace('\u0000', declarations);
  return `<?xml version="1.0" encoding="utf-8"?>${parts.join('')}`;
}

// ---------------------------------------------------------------------------------------------------------
// 207 Multi-Status answers
// ---------------------------------------------------------------------------------------------------------

/**
 * An element of an answer. `attrs` holds attributes without a namespace by local name and others as
 * `{uri}local`; namespace declarations are left out. `text` is the element's own character data and CDATA
 * in document order, entities decoded, white space as sent.
 */
export interface XmlElement {
  ns: string;
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** One `<response>` of a multistatus, for one href (RFC 4918 section 14.24). */
export interface DavResponse {
  /** The href as sent, trimmed (relative or absolute: resolve it against the URL of the answer). */
  href: string;
  /** The response-level `<status>`, present when the response carries no propstat; null when absent. */
  status: number | null;
  /** Each `<propstat>`: its status and the elements inside its `<prop>`. */
  propstats: { status: number; props: XmlElement[] }[];
}

/** A read multistatus: its responses and the collection's new `<sync-token>` (RFC 6578 section 6.4), trimmed. */
export interface Multistatus {
  responses: DavResponse[];
  syncToken: string | null;
}

/** How much of an answer `readMultistatus` reads, and the host its errors name. */
export interface ReadOptions {
  /** Bytes read at most; a longer answer is refused and its stream cancelled. */
  maxBytes: number;
  /** The server's host, named in error messages. */
  host: string;
}

/** The pieces the parser is fed at once: small enough that one never holds the event loop for long. */
const PIECE_BYTES = 64 * 1024;

/** An answer that is not well-formed XML or not a multistatus: readers that can do without one catch this. */
class NotMultistatus extends CalDavError {
  constructor(message: string) {
    super('BAD_RESPONSE', message);
  }
}

const isDav = (e: { ns: string; name: string }, name: string) => e.ns === NS.DAV && e.name === name;

/** Reads the code of an HTTP status line (`HTTP/1.1 404 Not Found`, RFC 4918 section 14.28), or null. */
function statusCode(line: string | undefined): number | null {
  const match = /^\s*HTTP\/\d+(?:\.\d+)?\s+(\d{3})(?:\s|$)/i.exec(line ?? '');
  return match ? Number(match[1]) : null;
}

/**
 * One DavResponse per href: `href*` with one status is allowed (RFC 4918 section 14.24). A response
 * without an href names nothing and is left out.
 */
function toResponses(response: XmlElement, host: string): DavResponse[] {
  const hrefs = response.children.filter((c) => isDav(c, 'href')).map((c) => c.text.trim());
  const statusEl = response.children.find((c) => isDav(c, 'status'));
  const status = statusCode(statusEl?.text);
  if (statusEl && status === null) throw new NotMultistatus(`${host} sent a response status that is not an HTTP status line: the answer was not used`);
  const propstats = response.children
    .filter((c) => isDav(c, 'propstat'))
    .map((p) => {
      // Every propstat carries its status (RFC 4918 section 14.22); without it there is no telling found from not found.
      const code = statusCode(p.children.find((c) => isDav(c, 'status'))?.text);
      if (code === null) throw new NotMultistatus(`${host} sent a propstat without an HTTP status line: the answer was not used`);
      return { status: code, props: p.children.filter((c) => isDav(c, 'prop')).flatMap((c) => c.children) };
    });
  return hrefs.filter((h) => h !== '').map((href) => ({ href, status, propstats }));
}

/**
 * Reads a 207 Multi-Status body (RFC 4918 section 13) as it streams in, at most `maxBytes` of it, in pieces
 * of 64 KiB with a turn of the event loop between them. Returns its responses, one per href, and the
 * top-level sync token (RFC 6578) or null. Throws `CalDavError`: `BAD_RESPONSE` for malformed XML, a
 * DOCTYPE, a root other than DAV: multistatus, a status line that cannot be read, or a body over `maxBytes`
 * (the stream is cancelled at once); `UNAVAILABLE` when reading the stream fails.
 * Only `<response>` and `<sync-token>` subtrees are kept; each response is turned into DavResponses as
 * it closes.
 */
export async function readMultistatus(body: ReadableStream<Uint8Array> | null, { maxBytes, host }: ReadOptions): Promise<Multistatus> {
  if (!body) throw new NotMultistatus(`${host} answered with an empty body instead of a WebDAV multistatus`);
  const result: Multistatus = { responses: [], syncToken: null };
  const parser = new SaxesParser({ xmlns: true });
  // Open elements; null for one whose subtree is not kept (anything at the top but responses and the sync token).
  const open: (XmlElement | null)[] = [];
  parser.on('doctype', () => {
    // A DTD may declare entities that expand to gigabytes (billion laughs); WebDAV bodies never need one.
    throw new NotMultistatus(`${host} sent an answer with a DOCTYPE, which is refused`);
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    const element: XmlElement = { ns: tag.uri, name: tag.local, attrs: {}, children: [], text: '' };
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      element.attrs[a.uri ? `{${a.uri}}${a.local}` : a.local] = a.value;
    }
    if (open.length === 0) {
      if (!isDav(element, 'multistatus')) throw new NotMultistatus(`${host} answered with <${tag.local}> in ${tag.uri ? `namespace ${tag.uri}` : 'no namespace'}, not a WebDAV multistatus`);
      open.push(element);
      return;
    }
    const parent = open[open.length - 1];
    const keep = open.length === 1 ? isDav(element, 'response') || isDav(element, 'sync-token') : parent !== null;
    if (keep && open.length > 1) parent!.children.push(element);
    open.push(keep ? element : null);
  });
  const onText = (text: string) => {
    const current = open[open.length - 1];
    if (current && open.length > 1) current.text += text;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    const element = open.pop();
    if (!element || open.length !== 1) return;
    if (isDav(element, 'response')) result.responses.push(...toResponses(element, host));
    else result.syncToken = element.text.trim();
  });

  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let bytes = 0;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch {
        throw new CalDavError('UNAVAILABLE', `the connection to ${host} broke off while reading its answer`);
      }
      if (chunk.done) break;
      bytes += chunk.value.byteLength;
      if (bytes > maxBytes) throw new CalDavError('BAD_RESPONSE', `${host} sent an answer larger than ${maxBytes} bytes: the answer was not used`);
      for (let at = 0; at < chunk.value.byteLength; at += PIECE_BYTES) {
        // `stream: true` keeps a multibyte character split across pieces or chunks for the next call.
        write(parser, decoder.decode(chunk.value.subarray(at, at + PIECE_BYTES), { stream: true }), host);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (bytes === 0) throw new NotMultistatus(`${host} answered with an empty body instead of a WebDAV multistatus`);
    write(parser, decoder.decode(), host);
    write(parser, null, host);
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  return result;
}

/** Writes to the parser (null closes it), turning a well-formedness error into `NotMultistatus`. */
function write(parser: SaxesParser<{ xmlns: true }>, text: string | null, host: string): void {
  try {
    if (text === null) parser.close();
    else parser.write(text);
  } catch (e) {
    if (e instanceof CalDavError) throw e;
    throw new NotMultistatus(`${host} sent malformed XML (${(e as Error).message}): the answer was not used`);
  }
}


/**
 * Reads the status inside a 207 answer to a write, read as `readMultistatus` does: the first response's
 * own status, else that of its first propstat. Xandikos answers a rejected PUT this way (CALDAV-FACTS.md).
 * Returns null when the body holds no status or is not a (well-formed) multistatus. Throws `CalDavError`:
 * `BAD_RESPONSE` for a body over `maxBytes`, `UNAVAILABLE` when reading the stream fails.
 */
export async function readInnerStatus(body: ReadableStream<Uint8Array> | null, options: ReadOptions): Promise<number | null> {
  try {
    const [first] = (await readMultistatus(body, options)).responses;
    return first?.status ?? first?.propstats[0]?.status ?? null;
  } catch (e) {
    if (e instanceof NotMultistatus) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reading properties
// ---------------------------------------------------------------------------------------------------------

const isSuccess = (status: number | null) => status === null || (status >= 200 && status < 300);

/**
 * Returns whether a response is a success: its own status is 2xx or absent (then its HTTP status, a
 * success since errors are handled before, stands for it).
 */
export function succeeded(response: DavResponse): boolean {
  return isSuccess(response.status);
}

/**
 * Returns the first property `(ns, name)` found in a 2xx propstat of `response`, or undefined. A property
 * in a 404 propstat is one the server does not have (RFC 4918 section 9.1), however it is written.
 */
export function findProp(response: DavResponse, ns: string, name: string): XmlElement | undefined {
  for (const propstat of response.propstats) {
    if (!isSuccess(propstat.status)) continue;
    const found = propstat.props.find((p) => p.ns === ns && p.name === name);
    if (found) return found;
  }
  return undefined;
}

/** Returns the element's text without surrounding white space, or undefined for no element. */
export function textOf(element: XmlElement | undefined): string | undefined {
  return element?.text.trim();
}

/** Returns the child elements `(ns, name)` of `element` (none for no element). */
export function childrenNamed(element: XmlElement | undefined, ns: string, name: string): XmlElement[] {
  return element?.children.filter((c) => c.ns === ns && c.name === name) ?? [];
}

/** Returns whether `element` has a child `(ns, name)`; false for no element. */
export function hasChild(element: XmlElement | undefined, ns: string, name: string): boolean {
  return childrenNamed(element, ns, name).length > 0;
}

/**
 * Returns the href inside an href-valued property such as `<d:current-user-principal><d:href>…` (RFC 5397),
 * trimmed; undefined when there is none or it is empty.
 */
export function hrefOf(property: XmlElement | undefined): string | undefined {
  return textOf(childrenNamed(property, NS.DAV, 'href')[0]) || undefined;
}
