import { AppError } from '../errors';

/** Checks a [from, to) range: ordered and at most `maxDays` long. Throws `BAD_USER_INPUT` otherwise. */
export function checkRange(from: Date, to: Date, maxDays: number): void {
  if (!(from < to)) throw new AppError('BAD_USER_INPUT', '"from" must be before "to".');
  if (to.getTime() - from.getTime() > maxDays * 86400000) throw new AppError('BAD_USER_INPUT', `The range may span at most ${maxDays} days.`);
}
