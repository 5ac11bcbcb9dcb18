import { useGraphiQL, useGraphiQLActions, type GraphiQLPlugin } from '@graphiql/react';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import 'graphiql/style.css';
import { Kind, parse, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { createClient, type Client } from 'graphql-ws/client';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { bearer, claimsOf, cleanToken, forgetToken, storedToken, storeToken, takeTokenFromFragment, wsUrl } from '../shared/token';
import { EXAMPLES } from './examples';
import './ide.css';

// Monaco's workers are bundled next to this file by `npm run build` (web/build.mjs): nothing from a CDN.
(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string) {
    const name = label === 'json' ? 'json' : label === 'graphql' ? 'graphql' : 'editor';
    return new Worker(`/graphiql/${name}.worker.js`, { name: `monaco-${name}` });
  },
};

const AUTHORIZATION = /^authorization$/i;

/** dispose() rejects with the close event when the socket never opened (a refused token): nothing to report. */
const close = (client: Client | undefined) => void Promise.resolve(client?.dispose()).catch(() => undefined);

/**
 * A fetcher that sends one token over both transports: the Authorization header of the Headers pane when there
 * is one, else the token of the sign-in field; over HTTP as the Authorization header, over WebSocket (graphql-ws,
 * same path) as `connectionParams.authorization`. One WebSocket per token, closed when the token changes.
 */
function tokenFetcher(token: string | undefined): { fetcher: Fetcher; dispose(): void } {
  let current: { authorization: string; client: Client; fetcher: Fetcher } | undefined;
  const forAuthorization = (authorization: string) => {
    if (current?.authorization === authorization) return current.fetcher;
    close(current?.client);
    const client = createClient({
      url: wsUrl(),
      connectionParams: authorization ? { authorization } : {},
      lazy: true,
      retryAttempts: 3,
    });
    const fetcher = createGraphiQLFetcher({
      url: '/graphql',
      headers: authorization ? { authorization } : {},
      wsClient: client,
      enableIncrementalDelivery: false,
    });
    current = { authorization, client, fetcher };
    return fetcher;
  };
  const fetcher: Fetcher = (params, options) => {
    const pane = (options?.headers ?? {}) as Record<string, unknown>;
    const fromPane = Object.entries(pane).find(([name]) => AUTHORIZATION.test(name))?.[1];
    const authorization = typeof fromPane === 'string' && fromPane.trim() ? fromPane.trim() : token ? bearer(token) : '';
    const headers = Object.fromEntries(Object.entries(pane).filter(([name]) => !AUTHORIZATION.test(name)));
    const settled = settleOperation(params.query, params.operationName);
    return forAuthorization(authorization)({ ...params, operationName: settled.operationName }, { ...options, headers, documentAST: settled.document ?? options?.documentAST });
  };
  return { fetcher, dispose: () => close(current?.client) };
}

/**
 * The operation to run, read from the query being sent. Right after a tab switch GraphiQL may still hold the
 * previous tab's operation name (and document): a subscription would then go over HTTP under a wrong name.
 */
function settleOperation(query: string, operationName: string | null | undefined): { document?: DocumentNode; operationName?: string | null } {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return { operationName };
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName && operations.some((o) => o.name?.value === operationName)) return { document, operationName };
  return { document, operationName: operations.length === 1 ? (operations[0].name?.value ?? null) : operationName };
}

function ExamplesPanel() {
  const { addTab } = useGraphiQLActions();
  const queryEditor = useGraphiQL((s) => s.queryEditor);
  const variableEditor = useGraphiQL((s) => s.variableEditor);
  return (
    <section className="crm-examples" aria-labelledby="crm-examples-title">
      <div className="graphiql-doc-explorer-title" id="crm-examples-title">
        Support examples
      </div>
      <p>Each opens in a new tab. Fill in the variables, then run it (Ctrl+Enter).</p>
      <ul>
        {EXAMPLES.map((example) => (
          <li key={example.title}>
            <button
              type="button"
              onClick={() => {
                addTab();
                queryEditor?.setValue(example.query);
                variableEditor?.setValue(example.variables ?? '');
              }}
            >
              {example.title}
            </button>
            <p>{example.description}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}

const examplesPlugin: GraphiQLPlugin = {
  title: 'Support examples',
  icon: () => (
    <svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
      <path d="M6 3h9l3 3v15H6z" />
      <path d="M9 9h6M9 13h6M9 17h4" />
    </svg>
  ),
  content: ExamplesPanel,
};

const defaultTabs = EXAMPLES.filter((e) => e.tab).map(({ query, variables }) => ({ query, variables }));

function App() {
  const [token, setToken] = useState<string | undefined>(() => takeTokenFromFragment() ?? storedToken());
  const [draft, setDraft] = useState('');
  const { fetcher, dispose } = useMemo(() => tokenFetcher(token), [token]);
  useEffect(() => dispose, [dispose]);
  const claims = token ? claimsOf(token) : undefined;

  const signIn = (e: FormEvent) => {
    e.preventDefault();
    if (!draft.trim()) return;
    storeToken(draft);
    setToken(cleanToken(draft));
    setDraft('');
  };
  const signOut = () => {
    forgetToken();
    setToken(undefined);
  };

  return (
    <div className="crm-ide">
      <form className="crm-ide-bar" onSubmit={signIn} autoComplete="off">
        <strong>CRM calendar API</strong>
        <label htmlFor="ide-token">Access token</label>
        <input
          id="ide-token"
          type="password"
          spellCheck={false}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder={token ? 'Paste another token to switch' : 'Paste a CRM token (JWT)'}
          aria-describedby="ide-token-state"
        />
        <button type="submit">Use token</button>
        <span id="ide-token-state" className="who" role="status">
          {token ? `Signed in as ${claims?.sub ?? 'unknown'}${claims?.role ? ` (${claims.role}${claims.tenantId ? `, ${claims.tenantId}` : ''})` : ''}: used for HTTP and WebSocket` : 'Not signed in: the schema loads once a token is set'}
        </span>
        {token && (
          <button type="button" className="secondary" onClick={signOut}>
            Sign out
          </button>
        )}
        <a href="/dashboard">Status dashboard</a>
      </form>
      <GraphiQL fetcher={fetcher} defaultTabs={defaultTabs} plugins={[HISTORY_PLUGIN, examplesPlugin]} defaultEditorToolsVisibility="variables" />
    </div>
  );
}

createRoot(document.getElementById('ide-root')!).render(<App />);
