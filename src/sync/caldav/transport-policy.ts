import { isIP } from 'node:net';

/** True when `hostname` is a loopback name or address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Whether Apple credentials may be sent to `url`: always over TLS, plain HTTP only to loopback
 * (local CalDAV servers in development and tests).
 */
export function isAllowedTransport(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopback(url.hostname);
}
