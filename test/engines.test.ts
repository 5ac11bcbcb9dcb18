import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

const ROOT = join(__dirname, '..');
const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

/**
 * `npm ci` warns EBADENGINE when an installed package declares a Node version the machine does not run. A
 * dependency bump can bring such a package back (it did: @whatwg-node/promise-helpers 2, Node >= 22.15, through
 * @apollo/server's @graphql-tools): `engines` and the lock file must agree.
 */
describe('the Node versions the package supports', () => {
  const engines: string = read('package.json').engines.node;
  const packages: Record<string, { engines?: { node?: string } }> = read('package-lock.json').packages;

  it('include the Node running the tests', () => {
    expect(semver.satisfies(process.version, engines)).toBe(true);
  });

  it('are accepted by every package in the lock file, so that npm ci warns of no engine', () => {
    const refusing = Object.entries(packages)
      .filter(([path, p]) => path !== '' && p.engines?.node && !semver.subset(engines, p.engines.node))
      .map(([path, p]) => `${path} wants Node ${p.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});
