import type { EntityManager } from '@mikro-orm/core';
import type { CredentialsCipher } from '../../auth/credentials.cipher';
import type { CalendarIntegration } from '../../entities/calendar-integration.entity';
import { plainRows } from '../../services/plain-rows';
import { CalDavClient } from './caldav.client';
import { CalDavError } from './caldav.errors';
import type { DavTransport } from './dav-fetch';

export interface CalDavClientsOptions {
  serverUrl: string;
  timeoutMs: number;
  cipher: CredentialsCipher;
  /** How requests travel: the global fetch by default; tests pass an in-memory CalDAV server. */
  transport?: DavTransport;
  /** Told the method and status of each answer (the metrics count them). */
  onResponse?: (method: string, status: string) => void;
}

/**
 * The one way to get a CalDAV client: for credentials a user just typed, or for a stored integration
 * (the password decrypted here and nowhere else). Injected into the services, so that a test can put
 * an in-memory CalDAV server behind every client.
 */
export interface CalDavClients {
  /** A client for an Apple ID and app-specific password as typed (connect). */
  forCredentials(appleId: string, password: string): CalDavClient;
  /**
   * A client for a stored integration. A password sealed with an older key is sealed again with the
   * current one (flushed with the caller's unit of work). Throws `CalDavError('AUTH')` when the
   * integration holds no password (disconnected).
   */
  forIntegration(em: EntityManager, integration: CalendarIntegration): Promise<CalDavClient>;
}

/** Returns the client factory for `options` (see `CalDavClients`). */
export function createCalDavClients(options: CalDavClientsOptions): CalDavClients {
  const forCredentials = (username: string, password: string) =>
    new CalDavClient({ serverUrl: options.serverUrl, username, password, timeoutMs: options.timeoutMs, transport: options.transport, onResponse: options.onResponse });
  return {
    forCredentials,
    async forIntegration(em, integration) {
      // The cipher text is a lazy column: read alone, as a plain row (a populate cost ~0.5 ms of CPU per push).
      // (An entity loaded without it has it undefined; a new or populated one holds a text or null.)
      const sealed =
        integration.passwordCipher !== undefined
          ? integration.passwordCipher
          : ((await plainRows(em, 'select password_cipher from calendar_integration where id = ?', [integration.id]))[0]?.password_cipher as string | null | undefined);
      if (!sealed) throw new CalDavError('AUTH', 'this account holds no app-specific password: connect it again');
      const password = options.cipher.decrypt(sealed, integration.id);
      // Key rotation: a password sealed with an older key is sealed again with the current one.
      if (options.cipher.needsRotation(sealed)) integration.passwordCipher = options.cipher.encrypt(password, integration.id);
      return forCredentials(integration.appleId, password);
    },
  };
}
