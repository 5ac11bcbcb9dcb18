/**
 * The access token of the browser pages (dashboard and IDE): kept in sessionStorage (this tab, until it
 * closes), taken once from a `#token=…` fragment (never sent to the server: fragments are not), and sent
 * only in the Authorization header (HTTP) and graphql-ws connectionParams (WebSocket), never in a URL.
 */
const KEY = 'crm-calendar.token';

/** The token without a "Bearer " prefix and surrounding blanks. */
export function cleanToken(value: string): string {
  return value.trim().replace(/^Bearer\s+/i, '').trim();
}

export function bearer(token: string): string {
  return `Bearer ${cleanToken(token)}`;
}

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string): void {
  try {
    sessionStorage.setItem(KEY, cleanToken(token));
  } catch {
    // Storage refused (private mode): the token lives as long as the page.
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

/**
 * Takes a token from the URL fragment (`#token=…`), stores it and removes the fragment from the address bar
 * and the history, so that it is neither bookmarked nor shared by copying the URL.
 */
export function takeTokenFromFragment(): string | undefined {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = fragment.get('token');
  if (!token) return undefined;
  fragment.delete('token');
  const rest = fragment.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  storeToken(token);
  return cleanToken(token);
}

export interface Claims {
  sub?: string;
  tenantId?: string;
  role?: string;
  exp?: number;
}

/** The token's claims, read without checking the signature (for display only: the server checks it). */
export function claimsOf(token: string): Claims | undefined {
  const payload = cleanToken(token).split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return typeof claims === 'object' && claims ? (claims as Claims) : undefined;
  } catch {
    return undefined;
  }
}

/** The graphql-ws URL of the API on this origin (same path as HTTP). */
export function wsUrl(path = '/graphql'): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}
