import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '..');

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of every file under `dirs`, as [importer, imported] paths from the project root. */
function imports(...dirs: string[]): [string, string][] {
  return dirs.flatMap(filesUnder).flatMap((file) =>
    ts
      .preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true)
      .importedFiles.map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec): [string, string] => [file, relative(ROOT, resolve(ROOT, dirname(file), spec))]),
  );
}

const into = (edges: [string, string][], prefix: string) => edges.filter(([, to]) => to === prefix || to.startsWith(`${prefix}/`)).map(([from, to]) => `${from} -> ${to}`);

describe('the import structure', () => {
  it('points one way: nothing below the resolvers imports from them', () => {
    const lower = imports('src/services', 'src/sync', 'src/availability', 'src/entities', 'src/jobs').concat(imports('src').filter(([from]) => from === 'src/pubsub.ts'));
    expect(into(lower, 'src/resolvers')).toEqual([]);
  });

  it('keeps test code out of the product: src, scripts, bench and dev import nothing from test/, and src nothing from dev/', () => {
    expect(into(imports('src', 'scripts', 'bench', 'dev'), 'test')).toEqual([]);
    expect(into(imports('src'), 'dev')).toEqual([]);
  });

  it('sets an integration status and a copy state only in their state machines', () => {
    const setters = filesUnder('src')
      .filter((file) => !file.startsWith('src/entities/') && !file.startsWith('src/migrations/'))
      .flatMap((file) => readFileSync(join(ROOT, file), 'utf8').split('\n').map((line, i) => [file, i + 1, line] as const))
      .filter(([, , line]) => /\b(status|state)\s*[:=]\s*(IntegrationStatus|SyncState)\./.test(line))
      .map(([file]) => file);
    expect([...new Set(setters)].sort()).toEqual(['src/services/integration-status.ts', 'src/sync/outbound/sync-link-state.ts']);
  });

  it('has services of one style: each *.service.ts exports classes (no functions), and resolvers reach them only through the context', () => {
    const functions = filesUnder('src/services')
      .filter((file) => file.endsWith('.service.ts'))
      .filter((file) => /^export (async )?function\b/m.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(functions).toEqual([]);
    // From src/services a resolver imports types and constants (limits shown in descriptions), never code to call.
    const calls = filesUnder('src/resolvers').flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^import \{([^}]*)\} from '\.\.\/services[^']*';/gm)]
        .flatMap((m) => m[1].split(',').map((name) => name.trim()))
        .filter((name) => name && !name.startsWith('type ') && !/^[A-Z][A-Z0-9_]*$/.test(name))
        .map((name) => `${file}: ${name}`),
    );
    expect(calls).toEqual([]);
  });

  it('keeps resolvers thin: they call services and never query the EntityManager themselves', () => {
    const queries = filesUnder('src/resolvers').filter((file) =>
      /\bem\.(find|findOne|findOneOrFail|count|flush|create|persist|remove|populate|nativeUpdate|nativeDelete|getConnection|transactional|createQueryBuilder)\b/.test(readFileSync(join(ROOT, file), 'utf8')),
    );
    expect(queries).toEqual([]);
  });
});
