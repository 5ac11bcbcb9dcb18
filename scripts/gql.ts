import { parseArgs } from 'node:util';

/**
 * `npm run --silent gql -- [--token JWT] [--pick EXPR] 'QUERY' [name=value ...]`: sends one GraphQL operation to
 * the server (http://localhost:$PORT/graphql, PORT default 4000; GRAPHQL_URL or --url to name another) and prints
 * the answer as JSON. Each `name=value` is a variable: the value as JSON when it parses as JSON (numbers,
 * objects, lists), as a string otherwise (ids, times). `--pick` prints only what a JavaScript expression over
 * `data` gives (a string as it is), e.g. `--pick data.createCrmCalendar.id`, for `X=$(...)` in a shell.
 * An answer with `errors` is printed to stderr and exits 1; no answer at all exits 2.
 */
const USAGE = "usage: npm run --silent gql -- [--token JWT] [--pick EXPR] [--url URL] 'QUERY' [name=value ...]";

function variable(arg: string): [string, unknown] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`"${arg}" is not a variable (name=value)\n${USAGE}`);
  const raw = arg.slice(eq + 1);
  try {
    return [arg.slice(0, eq), JSON.parse(raw)];
  } catch {
    return [arg.slice(0, eq), raw];
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { token: { type: 'string' }, pick: { type: 'string' }, url: { type: 'string' } },
  });
  const [query, ...vars] = positionals;
  if (!query) throw new Error(USAGE);
  const url = values.url ?? process.env.GRAPHQL_URL ?? `http://localhost:${process.env.PORT || 4000}/graphql`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (values.token !== undefined) headers.authorization = `Bearer ${values.token}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables: Object.fromEntries(vars.map(variable)) }) });
  } catch (e) {
    console.error(`no answer from ${url} (${(e as { cause?: Error }).cause?.message ?? (e as Error).message}): is the server running (npm start)?`);
    return 2;
  }
  const text = await res.text();
  let answer: { data?: unknown; errors?: unknown[] };
  try {
    answer = JSON.parse(text);
  } catch {
    console.error(`${url} answered ${res.status} without JSON: ${text.slice(0, 500)}`);
    return 2;
  }
  if (answer.errors?.length) {
    console.error(JSON.stringify(answer, null, 2));
    return 1;
  }
  if (values.pick === undefined) {
    console.log(JSON.stringify(answer, null, 2));
    return 0;
  }
  let picked: unknown;
  try {
    picked = new Function('data', `return (${values.pick});`)(answer.data);
  } catch (e) {
    console.error(`--pick ${values.pick}: ${(e as Error).message}\n${JSON.stringify(answer, null, 2)}`);
    return 1;
  }
  if (picked === undefined || picked === null) {
    console.error(`--pick ${values.pick} found nothing in\n${JSON.stringify(answer, null, 2)}`);
    return 1;
  }
  console.log(typeof picked === 'string' ? picked : JSON.stringify(picked, null, 2));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
