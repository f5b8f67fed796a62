// An MCP client (the official TypeScript SDK, `@modelcontextprotocol/sdk`) meeting an
// axum-token-auth API with no configuration, as every MCP client does (MCP
// authorization spec, 2025-06-18 and later):
//
//   1. MODE `transport`: it connects to SERVER_URL over Streamable HTTP without a token
//      (an MCP endpoint: POST); MODE `auth`: a bare GET of SERVER_URL (any route behind
//      the layer), whose 401 is handed to the SDK's `auth()` as the transport does;
//   2. the SDK's own `auth()` reads `resource_metadata` from the 401's
//      `WWW-Authenticate`, fetches the protected resource metadata (RFC 9728), picks the
//      authorization server, fetches *its* metadata (RFC 8414 / OIDC discovery) and
//      builds the authorization request with `resource` (RFC 8707) and `scope`;
//   3. the authorization URL it would send the user to is recorded (no browser here).
//
// Then, separately, `discoverOAuthProtectedResourceMetadata(SERVER_URL)` with no hint:
// the SDK's well-known-path discovery (RFC 9728 §3.1 path insertion, root fallback).
//
// Usage: node discover.mjs SERVER_URL CLIENT_ID [transport|auth]
// Prints one JSON object: { challenge, authorizationUrl, error, wellKnown }.
// Used by tests/it/resource_metadata.rs (run through scripts/test.sh: TEST_MCP_JS).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  auth,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/sdk/client/auth.js';

const [serverUrl, clientId, mode = 'transport'] = process.argv.slice(2);
if (!serverUrl || !clientId) {
  console.error('usage: node discover.mjs SERVER_URL CLIENT_ID');
  process.exit(2);
}

// What a bare request gets: status and the parsed challenge, as the SDK reads it.
const bare =
  mode === 'transport'
    ? await fetch(serverUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
      })
    : await fetch(serverUrl);
const params = extractWWWAuthenticateParams(bare);
const challenge = {
  status: bare.status,
  resourceMetadataUrl: params.resourceMetadataUrl?.href ?? null,
  error: params.error ?? null,
};

let authorizationUrl = null;
let verifier = null;
const provider = {
  get redirectUrl() {
    return 'http://127.0.0.1:1/callback';
  },
  get clientMetadata() {
    return { redirect_uris: ['http://127.0.0.1:1/callback'], client_name: 'mcp-interop' };
  },
  clientInformation: () => ({ client_id: clientId }),
  tokens: () => undefined,
  saveTokens: () => {},
  redirectToAuthorization: (url) => {
    authorizationUrl = url.href;
  },
  saveCodeVerifier: (v) => {
    verifier = v;
  },
  codeVerifier: () => verifier,
};

let error = null;
if (mode === 'transport') {
  const client = new Client({ name: 'mcp-interop', version: '0.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
    error = 'connected without a token';
  } catch (e) {
    // UnauthorizedError after the redirect is the expected end of a first connection.
    error = e?.constructor?.name === 'UnauthorizedError' ? null : String(e?.message ?? e);
  }
} else {
  try {
    const result = await auth(provider, {
      serverUrl,
      resourceMetadataUrl: params.resourceMetadataUrl,
      scope: params.scope,
    });
    if (result !== 'REDIRECT') error = `auth() returned ${result}`;
  } catch (e) {
    error = String(e?.message ?? e);
  }
}

let wellKnown = null;
try {
  wellKnown = await discoverOAuthProtectedResourceMetadata(serverUrl);
} catch (e) {
  wellKnown = { failed: String(e?.message ?? e) };
}

console.log(JSON.stringify({ challenge, authorizationUrl, error, wellKnown }));
process.exit(0);
