import { CalDavError, errorForStatus } from './caldav.errors';
import { MAX_ANSWER_BYTES, type CalDavClient } from './caldav.client';
import { readInnerStatus } from './webdav-xml';

/** Outcome of a conditional write: done (with the new etag when the server sent one) or a failed precondition. */
export type WriteResult = { ok: true; etag: string | null } | { ok: false; preconditionFailed: true };

/**
 * Xandikos answers a rejected PUT with 207 and the real status inside (CALDAV-FACTS.md). Returns that
 * inner status, or the HTTP status when the body is no multistatus. Throws `CalDavError` when the body
 * is over `MAX_ANSWER_BYTES` or breaks off.
 */
async function effectiveStatus(response: Response, url: string): Promise<number> {
  if (response.status !== 207) return response.status;
  const host = new URL(response.url || url).host;
  return (await readInnerStatus(response.body, { maxBytes: MAX_ANSWER_BYTES, host })) ?? 207;
}

/**
 * PUTs an iCalendar object with a precondition, never without one: `ifNoneMatch` creates only when
 * absent (RFC 7232 section 3.2), `ifMatch` updates only the version we saw. 412 comes back as
 * `preconditionFailed`; other failures throw `CalDavError` (mapped by status).
 */
export async function putObject(client: CalDavClient, url: string, ics: string, precondition: { ifMatch: string } | { ifNoneMatch: '*' }): Promise<WriteResult> {
  const headers: Record<string, string> = { 'Content-Type': 'text/calendar; charset=utf-8' };
  if ('ifMatch' in precondition) headers['If-Match'] = precondition.ifMatch;
  else headers['If-None-Match'] = '*';
  const response = await client.request(url, { method: 'PUT', body: ics, headers });
  const status = await effectiveStatus(response, url);
  if (status === 412) return { ok: false, preconditionFailed: true };
  if (status < 200 || status >= 300) throw errorForStatus(status, url, response.headers.get('retry-after'));
  return { ok: true, etag: response.headers.get('etag') };
}

/** DELETEs with `If-Match`. A 404 counts as done when the object is indeed gone. Throws `CalDavError` for other failures. */
export async function deleteObject(client: CalDavClient, url: string, etag: string): Promise<WriteResult> {
  if (!etag) throw new CalDavError('BAD_RESPONSE', 'refusing to delete without an etag');
  const response = await client.request(url, { method: 'DELETE', headers: { 'If-Match': etag } });
  const status = await effectiveStatus(response, url);
  if (status === 412) return { ok: false, preconditionFailed: true };
  if (status !== 404 && (status < 200 || status >= 300)) throw errorForStatus(status, url, response.headers.get('retry-after'));
  // "Already gone" is taken on trust only when a read agrees: a copy left behind would show a cancelled appointment.
  if (status === 404 && (await getObject(client, url))) throw new CalDavError('UNAVAILABLE', `${new URL(url).host} answered 404 to deleting ${new URL(url).pathname}, which is still there: retrying`);
  return { ok: true, etag: null };
}

/** GETs one object: its content and etag, or null when it does not exist. Throws `CalDavError` otherwise. */
export async function getObject(client: CalDavClient, url: string): Promise<{ etag: string; data: string } | null> {
  const response = await client.request(url, { method: 'GET' });
  if (response.status === 404) return null;
  if (!response.ok) throw errorForStatus(response.status, url, response.headers.get('retry-after'));
  const etag = response.headers.get('etag');
  if (!etag) throw new CalDavError('BAD_RESPONSE', `${new URL(url).host} sent no etag for ${new URL(url).pathname}`);
  return { etag, data: await response.text() };
}
