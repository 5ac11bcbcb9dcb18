import fc from 'fast-check';
import { jsonBytes } from '../src/json-bytes';

/** What Apollo sends for a result: JSON.stringify and a newline, as UTF-8. */
const apollo = (value: unknown) => Buffer.from(JSON.stringify(value) + '\n', 'utf8');

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

describe('jsonBytes, the answer written without one large string', () => {
  it('gives the bytes of JSON.stringify plus a newline for any JSON value, in objects with and without a prototype', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, bare) => {
        const shaped = bare && value && typeof value === 'object' && !Array.isArray(value) ? Object.assign(Object.create(null), value) : value;
        expect(jsonBytes({ data: shaped }).equals(apollo({ data: shaped }))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same bytes for values JSON.stringify leaves out, turns to null or shapes with toJSON', () => {
    const values: unknown[] = [
      { a: undefined, b: () => 1, c: Symbol('s'), d: 1 },
      [undefined, () => 1, Symbol('s'), 2],
      { date: new Date(Date.UTC(2026, 11, 1, 9)), gone: { toJSON: () => undefined }, shaped: { toJSON: () => ({ x: [1, 2] }) } },
      [new Date(0), { toJSON: () => undefined }],
      { boxed: [new String('text'), new Number(3), new Boolean(false)], instance: new Point(1, 2), nested: [[], {}, [[]], [{}]] },
      // eslint-disable-next-line no-sparse-arrays
      { sparse: [1, , 3] },
      { unicode: 'Zoë, Łódź, 東京, 🗓️', lone: '\ud800 alone', escapes: '"quoted"\n\t\\ \u0001' },
      { numbers: [0, -0, 1e21, 1.5e-7, Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER] },
      Object.assign(Object.create(null), { bare: Object.assign(Object.create(null), { inner: [1] }) }),
      'a string at the top',
      null,
      [],
      {},
    ];
    for (const value of values) expect(jsonBytes(value).toString('utf8')).toBe(apollo(value).toString('utf8'));
  });

  it('gives the same bytes for large arrays of uneven items and for items larger than one part', () => {
    const slots = Array.from({ length: 700 }, (_, i) => ({
      startsAt: new Date(Date.UTC(2026, 11, 2, 8) + i * 1800000).toISOString(),
      availableUserIds: Array.from({ length: i % 26 }, (_, k) => `member-${k} ✓`),
      seatsLeft: i % 3 === 0 ? null : 1,
      note: i % 50 === 0 ? 'x'.repeat(20000) : undefined,
    }));
    const big = Array.from({ length: 5 }, (_, i) => ({ rows: Array.from({ length: 3000 }, (_, k) => [i, k, `${i}-${k}`]) }));
    for (const value of [{ data: { availableSlots: slots } }, { data: { big } }, { data: { tiny: [1], big: slots.slice(0, 3) } }]) {
      expect(jsonBytes(value).equals(apollo(value))).toBe(true);
    }
  });

  it('throws what JSON.stringify throws: a cycle, a BigInt', () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { again: cycle };
    expect(() => jsonBytes({ data: cycle })).toThrow(TypeError);
    expect(() => jsonBytes({ data: [1n] })).toThrow(TypeError);
  });
});
