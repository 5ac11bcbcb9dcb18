import { APP_PASSWORD_HELP, AppError } from '../errors';

/** Apple ID and app-specific password after validation, in the form sent to iCloud. */
export interface AppleCredentials {
  appleId: string;
  appSpecificPassword: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Validates and normalises what a user typed. An app-specific password is 16 letters shown as
 * `abcd-efgh-ijkl-mnop`; spaces, missing hyphens and capitals are accepted and normalised.
 * Throws `INVALID_APPLE_ID` or `INVALID_APP_SPECIFIC_PASSWORD` with guidance (a normal Apple ID password
 * has digits or symbols or another length, and iCloud refuses it for CalDAV).
 */
export function normaliseAppleCredentials(appleId: string, password: string): AppleCredentials {
  const id = appleId.trim().toLowerCase();
  if (!EMAIL.test(id)) {
    throw new AppError('INVALID_APPLE_ID', `"${appleId.trim()}" is not an Apple ID: enter the e-mail address you sign in to iCloud with.`);
  }
  const letters = password.replace(/[\s-]/g, '').toLowerCase();
  if (!/^[a-z]{16}$/.test(letters)) {
    throw new AppError(
      'INVALID_APP_SPECIFIC_PASSWORD',
      'This is not an app-specific password (it looks like your normal Apple ID password, which iCloud does not ' +
        'accept for calendar access). ' + APP_PASSWORD_HELP,
    );
  }
  return { appleId: id, appSpecificPassword: letters.match(/.{4}/g)!.join('-') };
}
