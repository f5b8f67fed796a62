#!/usr/bin/env node
// scripts/oidc/provider.mjs - a real OpenID Provider on loopback for the
// axum-token-auth integration tests (tests/it/common/oidc.rs drives it).
//
// It is `oidc-provider` (panva/node-oidc-provider, the OpenID-certified
// Node.js implementation) 8.8.1, pinned in package.json/package-lock.json, with
// a test configuration, plus a few /admin/* routes that are NOT part of OIDC.
// Why 8.x and not 9.x: every 9.x release declares Node.js 22 LTS as its minimum
// (it warns "Unsupported runtime" on node 20 and calls node >= 20.12 APIs such
// as crypto.hash), while Debian 12's and Ubuntu 24.04's apt `nodejs` - what
// scripts/test.sh installs on a machine without node - is 18.x. 8.8.1 is the
// last 8.x and supports node 18/20/22. This file itself only needs node >= 18.
// Install its dependencies with
//   npm ci --prefix scripts/oidc --no-audit --no-fund
// (scripts/test.sh does that and exports TEST_OIDC_PROVIDER / TEST_NODE_BIN).
//
// USAGE
//   node provider.mjs --port PORT --keys KEYS.json [--ready-file F]
//                     [--jwks-max-age SECONDS] [--access-token-ttl SECONDS]
//                     [--exit-with-stdin]
//   node provider.mjs --gen-key KID
//
//   --port PORT      listen on 127.0.0.1:PORT; 0 (the default) picks a free
//                    port. The issuer is exactly `http://127.0.0.1:PORT`
//                    (the actual port, no trailing slash).
//   --keys FILE      a JWKS `{"keys":[...]}` of PRIVATE RSA JWKs (the `jwk`
//                    member of --gen-key's output). keys[0] signs everything
//                    (access tokens and ID tokens); all keys are published in
//                    the JWKS. Rotate = restart on the same port with
//                    [new, old]; retire = restart with [new].
//                    Each key should carry "kid", "alg":"RS256", "use":"sig".
//   --ready-file F   once listening, write F (atomically: F.tmp + rename)
//                    with {"issuer","port","pid","jwks_uri","kids"}.
//                    Independently, one line `ready <issuer>` goes to stdout.
//   --jwks-max-age S answer the JWKS with `Cache-Control: public, max-age=S`.
//                    Without it the JWKS response carries NO Cache-Control
//                    header at all (oidc-provider sets none; neither does the
//                    discovery document).
//   --access-token-ttl S  lifetime of JWT access tokens (default: 600 s, the
//                    oidc-provider default for client-credentials tokens).
//   --exit-with-stdin  shut down when stdin reaches EOF: the parent keeps a
//                    pipe open, so a test binary that dies (even by SIGKILL)
//                    leaves no orphaned provider behind.
//   --client-jwks F  a JWKS of PUBLIC keys for the private_key_jwt client
//                    `introspect-jwt-client` (registered only with this option).
//   --gen-key KID    print {"jwk": <private RSA-2048 JWK with kid, alg RS256,
//                    use sig>, "private_pem": PKCS#1 PEM, "public_pem": SPKI
//                    PEM} to stdout and exit. The PEMs are for Rust
//                    (jsonwebtoken's EncodingKey::from_rsa_pem, or the public
//                    PEM as an HMAC secret for alg-confusion forgeries).
//
// SIGTERM / SIGINT: closes the listener and all connections, exits 0.
// Logs go to stderr (one line per request); stdout only carries `ready`.
//
// OIDC CONFIGURATION
//   discovery   GET /.well-known/openid-configuration  (also the RFC 8414
//               /.well-known/oauth-authorization-server)
//   jwks_uri    http://127.0.0.1:PORT/jwks   (public parts: kty n e kid alg use)
//   token       POST /token
//   client      client_id `test-client`, client_secret `test-secret`,
//               client_secret_basic or client_secret_post, grant types
//               client_credentials + authorization_code, redirect_uri
//               http://127.0.0.1:PORT/admin/cb (never actually served).
//   resources   features.resourceIndicators: ANY absolute-URI resource
//               indicator is accepted and becomes the token's `aud`, with
//               scopes `users:read users:write admin` (requested scopes outside
//               that set are silently dropped; no `scope` claim if none is
//               left), JWT format, RS256 with keys[0].
//
// mTLS   (RFC 8705 certificate-bound tokens; the MTLS block below)
//        features.mTLS with certificateBoundAccessTokens, and a second client
//        `mtls-client` / `mtls-secret` (client_secret_basic, client credentials,
//        tls_client_certificate_bound_access_tokens). No TLS: the "client
//        certificate" of a token request is the URL-encoded PEM in its
//        `x-test-client-cert` header. That client's token request without the
//        header is refused (400 invalid_grant); with it, the access token carries
//        `cnf: {"x5t#S256": <SHA-256 of the certificate's DER>}`. test-client is
//        unaffected (its tokens have no `cnf`).
//
// A client-credentials token:
//   POST /token  grant_type=client_credentials&resource=urn:test:api&scope=users:read
//   (Authorization: Basic base64(test-client:test-secret), or client_id +
//   client_secret in the form: oidc-provider treats basic and post alike)
//   → {"access_token":"<JWT>","expires_in":600,"token_type":"Bearer","scope":"users:read"}
// Without `resource` the token is opaque (not a JWT) - always send one.
// What the access token actually contains (observed with oidc-provider 8.8.1):
//   header  {"alg":"RS256","typ":"at+jwt","kid":"<keys[0].kid>"}
//   claims  {"jti":"r57Vp4sCFRIlwU0CBADRZ","sub":"test-client","iat":1796140182,
//            "exp":1796140782,"scope":"users:read","client_id":"test-client",
//            "iss":"http://127.0.0.1:38065","aud":"urn:test:api"}
//   Exactly these 8 claims: `sub` is the client id (client credentials), `aud`
//   is a string (not an array), `jti` a 21-char nanoid, exp = iat + 600; no
//   `nbf`, `auth_time` or `cnf`.
//
// OPAQUE TOKENS, INTROSPECTION, REVOCATION (the INTROSPECTION block below;
// tests/it/introspection.rs)
//   A resource indicator starting with `urn:test:opaque` gets an OPAQUE access
//   token (oidc-provider's own format: a 43-char random string, no dots) with the
//   same scopes, audience (= the resource) and lifetime as the JWT ones.
//   introspection  POST /token/introspection (RFC 7662; features.introspection),
//                  JWT responses on `Accept: application/token-introspection+jwt`
//                  (RFC 9701; features.jwtIntrospection) for clients registered
//                  with introspection_signed_response_alg.
//   revocation     POST /token/revocation (RFC 7009) by the token's own client.
//   clients        `introspect-client` / `introspect-secret`: client_secret_basic,
//                  signed (RS256) introspection responses when asked for;
//                  `introspect-post-client` / `introspect-secret`: client_secret_post;
//                  `introspect-jwt-client`: private_key_jwt with the public keys of
//                  --client-jwks FILE (only registered when that option is given).
//   GET /admin/stats also counts `introspection_requests` and `revocation_requests`.
//
// ADMIN ROUTES (not OIDC, same port)
//   GET /admin/stats     {"jwks_requests":N,"discovery_requests":M,
//                         "oauth_metadata_requests":K,"token_requests":T}
//                        counted since this process started (a restart resets
//                        them). discovery_requests counts only
//                        /.well-known/openid-configuration; token_requests
//                        includes the one /admin/id_token makes itself.
//   GET /admin/id_token[?sub=USER&nonce=N]
//                        a GENUINE ID token: the route drives oidc-provider's
//                        own authorization code flow (devInteractions login +
//                        consent screens, PKCE S256, state, nonce) against this
//                        very process over loopback HTTP and redeems the code at
//                        /token as test-client. Answers {"id_token",
//                        "access_token" (opaque), "token_response"}. Default sub
//                        `test-user`. JWKS/discovery counters are not touched.
//   The ID token (observed with oidc-provider 8.8.1):
//   header  {"alg":"RS256","typ":"JWT","kid":"<keys[0].kid>"}
//   claims  {"sub":"test-user","nonce":"QpHU9D4qCRw","at_hash":"qDxRh0T_5FeaVFrKAkMwvw",
//            "aud":"test-client","exp":1796143782,"iat":1796140182,
//            "iss":"http://127.0.0.1:38065"}
//   Same issuer and signing key as the access tokens, but `typ: JWT`, `aud` =
//   the client id, exp = iat + 3600, and no `scope`, `client_id` or `jti`.
//   GET /admin/user_token?sub=USER[&acr=ACR][&amr=M1+M2][&scope=S]
//                        the same genuine authorization code flow, with the
//                        resource indicator urn:test:api (so the access token is
//                        a JWT) and a login that reports `acr`/`amr` (see STEP-UP
//                        below). Answers {"access_token" (JWT), "id_token",
//                        "token_response"}.

// BACK-CHANNEL LOGOUT (OIDC Back-Channel Logout 1.0 + RP-Initiated Logout 1.0; the
// BACK-CHANNEL LOGOUT block below; tests/it/oidc_harness.rs, backchannel_harness.rs)
//   features.backchannelLogout, and OPEN dynamic client registration (RFC 7591 /
//   OIDC Registration; features.registration, no initial access token): a test
//   registers its own client naming its own loopback server as the logout receiver.
//   The discovery document therefore also lists `registration_endpoint`,
//   `backchannel_logout_supported: true` and `backchannel_logout_session_supported:
//   true`; the static clients above are unchanged (none has a backchannel_logout_uri).
//   register    POST /reg  (Content-Type: application/json)
//               {"redirect_uris":["http://127.0.0.1:PORT/admin/cb"],
//                "backchannel_logout_uri":"http://127.0.0.1:<test server>/<path>",
//                "backchannel_logout_session_required":true[, "client_id":"my-api"]}
//               → 201 {"client_id","client_secret",...all metadata,
//                "registration_access_token","registration_client_uri"}
//               client_id: a random 22-char base64url string, or the one asked for
//               (a test extension, not RFC 7591: pick the API's audience before the
//               API's URL is known); one already taken (static clients included) is
//               a 400 invalid_client_metadata.
//               Defaults: grant_types [authorization_code], response_types [code],
//               client_secret_basic, ID tokens RS256. redirect_uris MUST be exactly
//               [<issuer>/admin/cb] for /admin/login to drive the flow. http:// logout
//               URIs on loopback are accepted.
//   `sid`       oidc-provider gives a client a `sid` only when it is registered with
//               a backchannel_logout_uri AND backchannel_logout_session_required; then
//               the ID token, the access token (extraTokenClaims copies the code's /
//               refresh token's `sid`, see STEP-UP) and the logout token all carry the
//               SAME value, one per (provider session, client): two clients logged in
//               in one provider session get two different sids. Without it, no token
//               carries `sid` and the logout token names only `sub`.
//   GET /admin/login?client_id=C[&sub=USER][&scope=S][&handle=H]
//                        the genuine authorization code flow (as /admin/user_token:
//                        resource urn:test:api, PKCE, devInteractions login + consent)
//                        as the REGISTERED client C (its secret is looked up here,
//                        never sent), in a browser whose cookies - the provider
//                        session - are kept here under a handle. With `handle`, the
//                        flow continues that browser's session (single sign-on: no
//                        login screen, only the consent of a new client; `sub` is then
//                        ignored). Answers {"handle","client_id","sub","sid" (null
//                        without one),"access_token" (JWT),"id_token","token_response"}.
//                        Default sub `test-user`, scope `users:read`.
//   GET /admin/end_session?handle=H[&client_id=C][&logout=yes|no]
//                        the genuine RP-initiated logout of that browser: GET
//                        /session/end?id_token_hint=<C's last ID token> (C: by
//                        default the handle's last client still logged in) with its
//                        cookies, read the confirm form's xsrf, POST
//                        /session/end/confirm as the "Yes, sign me out" button does (logout=yes: the whole provider
//                        session ends and EVERY client of it with a
//                        backchannel_logout_uri receives a logout token) or as "No,
//                        stay signed in" (logout=no: only C's part ends, only C is
//                        told), then GET the success page. oidc-provider POSTs the
//                        logout tokens (form `logout_token=<JWT>`, 2.5 s timeout, no
//                        retry; a receiver must answer 200 or 204) BEFORE it answers
//                        the confirm, so they have all arrived when this route
//                        answers {"backchannel":[{"client_id","sub","sid","ok":true}
//                        or {...,"error":"expected 200 OK from <uri>, got: 400 Bad
//                        Request"}],"confirm_status":303,"location","success_status"}.
//                        The ended login's ID tokens are forgotten: a second
//                        end_session of the same login is a 400; /admin/login with the
//                        handle logs in again (new sid).
//   Unknown client_id / handle → 400 {"error"}; a failed flow → 500 {"error"}.
//   The logout token (observed with oidc-provider 8.8.1):
//   header  {"alg":"RS256","typ":"logout+jwt","kid":"<keys[0].kid>"}
//   claims  {"sub":"alice","events":{"http://schemas.openid.net/event/backchannel-logout":{}},
//            "jti":"8sry-k1dmVaEltFQTdHcr","sid":"aJNVta5z7rOcsQ2vtxKgw",
//            "aud":"w4-DEHwcRNlLRmOvo772C","exp":1796300057,"iat":1796299937,
//            "iss":"http://127.0.0.1:38749"}
//   So: `typ: logout+jwt` (in the header), `aud` a STRING (the client id), `exp` =
//   iat + 120, `jti` a 21-char nanoid, `sub` always, `sid` only for clients with
//   backchannel_logout_session_required, `events` exactly the back-channel event with
//   an empty object, no `nonce`; signed like the ID tokens (RS256, keys[0]).
//   The user's access token from /admin/login (observed):
//   claims  {"auth_time","sid":"aJNVta5z7rOcsQ2vtxKgw","jti","sub":"alice","iat","exp",
//            "scope":"users:read","client_id":"<C>","iss","aud":"urn:test:api"}
//   and the ID token has the same "sid" (plus at_hash, nonce; aud = C).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const CLIENT_ID = 'test-client';
const CLIENT_SECRET = 'test-secret';
const RESOURCE_SCOPE = 'users:read users:write admin';

// --- DPoP (RFC 9449) -----------------------------------------------------------
// For tests/it/dpop_interop.rs; everything the DPoP feature adds is in this block
// (plus the two `...dpop*` spreads in the Provider configuration below).
// A second client, `dpop-client` / `dpop-secret` (client_secret_basic), client
// credentials only, with `dpop_bound_access_tokens: true`: its token requests MUST
// carry a `DPoP` proof (ES256 or EdDSA: oidc-provider's default dPoPSigningAlgValues),
// and the access token (a JWT when `resource` is sent, as for test-client) is bound to
// the proof's key:
//   POST /token  DPoP: <proof htm=POST htu=<issuer>/token>
//                grant_type=client_credentials&resource=urn:test:api&scope=users:read
//   → {"access_token":"<JWT>","expires_in":600,"token_type":"DPoP","scope":"users:read"}
//   claims as test-client's tokens (sub/client_id = dpop-client) plus
//   "cnf":{"jkt":"<RFC 7638 thumbprint of the proof's jwk>"}
// No server nonces (requireNonce off), replayed proofs refused at the token endpoint.
// The discovery document advertises `dpop_signing_alg_values_supported`.
const DPOP_CLIENT_ID = 'dpop-client';
const DPOP_CLIENT_SECRET = 'dpop-secret';
const dpopClients = [{
  client_id: DPOP_CLIENT_ID,
  client_secret: DPOP_CLIENT_SECRET,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  dpop_bound_access_tokens: true,
}];
const dpopFeatures = { dPoP: { enabled: true } };
// --- end of DPoP ---------------------------------------------------------------

// --- STEP-UP (RFC 9470; tests/it/step_up.rs) -------------------------------------
// A user's JWT access token (authorization code flow, /admin/user_token) carries
// what the login reported: `auth_time` (the login's time, always), `acr` and `amr`
// (when the login said). oidc-provider keeps them on the authorization code; the
// extraTokenClaims hook copies them into access tokens minted from a code (or a
// refresh token). Client-credentials tokens get nothing (nobody authenticated).
// The login that reports acr/amr: a POST to the login interaction with the headers
// `x-test-acr` (and `x-test-amr`, space-separated) is finished here, as an identity
// provider's MFA step would finish it, instead of by devInteractions (which reports
// neither). A real access token observed with oidc-provider 8.8.1:
//   {"jti","sub":"alice","iat","exp","scope":"users:read","client_id":"test-client",
//    "iss","aud":"urn:test:api","acr":"mfa","amr":["pwd","otp"],"auth_time":<login>}
function stepUpTokenClaims(ctx) {
  const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
  if (!source) return undefined;
  // sid: the provider session's id for this client (BACK-CHANNEL LOGOUT below): set on
  // the code only for clients registered with a backchannel_logout_uri and
  // backchannel_logout_session_required (oidc-provider's Client#includeSid), so other
  // clients' tokens are unchanged. The same value as the ID token's and the logout
  // token's `sid`.
  return { acr: source.acr, amr: source.amr, auth_time: source.authTime, sid: source.sid };
}

async function stepUpLogin(ctx) {
  const acr = ctx.get('x-test-acr');
  if (ctx.method !== 'POST' || !acr || !/^\/interaction\/[^/]+$/.test(ctx.path)) return false;
  const chunks = [];
  for await (const c of ctx.req) chunks.push(c);
  const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const amr = ctx.get('x-test-amr');
  await provider.interactionFinished(ctx.req, ctx.res, {
    login: { accountId: body.get('login'), acr, ...(amr ? { amr: amr.split(' ') } : {}) },
  }, { mergeWithLastSubmission: false });
  ctx.respond = false;
  return true;
}
// --- end of STEP-UP ------------------------------------------------------------

// --- BACK-CHANNEL LOGOUT (OIDC Back-Channel Logout 1.0 + RP-Initiated Logout 1.0;
// tests/it/oidc_harness.rs, tests/it/backchannel_harness.rs) -----------------------
// features.backchannelLogout, and open dynamic client registration (RFC 7591,
// features.registration without an initial access token) so that each test registers
// its own client whose `backchannel_logout_uri` is its own loopback server. A user's
// provider session (the browser's cookies) is kept here under a handle between
// /admin/login and /admin/end_session (see ADMIN ROUTES in the header).
// A registration may ask for its client_id (not in RFC 7591, where the server always
// chooses): a test that must configure the API's audience before it knows its own URL
// (a spawned quickstart) picks the id first. An id already taken - a static client's
// or an earlier registration's - is refused (400 invalid_client_metadata), never
// replaced.
const takenClientIds = new Set();
const backchannelFeatures = {
  backchannelLogout: { enabled: true },
  registration: {
    enabled: true,
    idFactory(ctx) {
      const wanted = ctx.oidc.body?.client_id;
      if (wanted !== undefined && (typeof wanted !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(wanted))) {
        throw new errors.InvalidClientMetadata('client_id must be 1 to 100 printable ASCII characters');
      }
      if (wanted !== undefined && takenClientIds.has(wanted)) {
        throw new errors.InvalidClientMetadata(`client_id ${wanted} is already registered`);
      }
      const id = wanted ?? crypto.randomBytes(16).toString('base64url');
      takenClientIds.add(id);
      return id;
    },
  },
};
// handle -> { jar: Map (the provider's cookies), idTokens: Map(clientId -> last ID token),
//             lastClientId, sub }
const browserSessions = new Map();
// handle -> [{client_id, sid, sub, ok | error}]: the back-channel deliveries of the
// end-session request running for that handle (the confirm request carries the handle
// in `x-test-end-session`, so the provider's events can be told apart)
const deliveries = new Map();

function deliveryOutcome(ctx, client, accountId, sid, err) {
  const handle = ctx?.get?.('x-test-end-session');
  if (!handle || !deliveries.has(handle)) return;
  deliveries.get(handle).push({
    client_id: client.clientId,
    sub: accountId,
    ...(sid ? { sid } : {}),
    ...(err ? { error: String(err.message ?? err) } : { ok: true }),
  });
}

// The `sid` claim of a JWT (unverified: it is our own token), or undefined.
function sidOf(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).sid;
  } catch {
    return undefined;
  }
}
// --- end of BACK-CHANNEL LOGOUT -------------------------------------------------

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    keys: { type: 'string' },
    'ready-file': { type: 'string' },
    'jwks-max-age': { type: 'string' },
    'access-token-ttl': { type: 'string', default: '600' },
    'gen-key': { type: 'string' },
    'exit-with-stdin': { type: 'boolean', default: false },
    'client-jwks': { type: 'string' },
  },
  strict: true,
});

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

function nonNegativeInt(name, value) {
  if (!/^\d+$/.test(value)) fail(`--${name} must be a non-negative integer, got ${value}`);
  return Number(value);
}

if (args['gen-key'] !== undefined) {
  const kid = args['gen-key'];
  if (!kid) fail('--gen-key needs a non-empty KID');
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  process.stdout.write(`${JSON.stringify({
    jwk,
    private_pem: privateKey.export({ format: 'pem', type: 'pkcs1' }),
    public_pem: publicKey.export({ format: 'pem', type: 'spki' }),
  })}\n`);
  process.exit(0);
}

// loaded only now: --gen-key does not need it (and it prints warnings)
const { default: Provider, errors } = await import('oidc-provider');

const port = nonNegativeInt('port', args.port);
if (port > 65535) fail(`--port out of range: ${port}`);
if (!args.keys) fail('--keys KEYS.json is required');
const jwksMaxAge = args['jwks-max-age'] === undefined ? undefined : nonNegativeInt('jwks-max-age', args['jwks-max-age']);
const accessTokenTTL = nonNegativeInt('access-token-ttl', args['access-token-ttl']);
if (accessTokenTTL === 0) fail('--access-token-ttl must be positive');

let jwks;
try {
  jwks = JSON.parse(fs.readFileSync(args.keys, 'utf8'));
} catch (err) {
  fail(`cannot read --keys ${args.keys}: ${err.message}`);
}
if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) fail(`${args.keys} must be {"keys":[...]} with at least one key`);

// Bind first (port 0 = any free port), then build the provider with the real
// issuer; requests are only handled once the ready file exists.
const server = http.createServer();
server.keepAliveTimeout = 5_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => {
    server.off('error', reject);
    resolve();
  });
}).catch((err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

const actualPort = server.address().port;
const issuer = `http://127.0.0.1:${actualPort}`;
const redirectUri = `${issuer}/admin/cb`;

// --- MTLS: RFC 8705 certificate-bound access tokens (tests/it/mtls.rs) --------
// The certificate comes from a request header instead of a TLS connection, so the
// tests need no TLS between them and the provider. Only `mtls-client` asks for bound
// tokens; every other client is unaffected.
const MTLS_CLIENT = {
  client_id: 'mtls-client',
  client_secret: 'mtls-secret',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  tls_client_certificate_bound_access_tokens: true,
};
const MTLS_FEATURE = {
  enabled: true,
  certificateBoundAccessTokens: true,
  getCertificate(ctx) {
    const value = ctx.get('x-test-client-cert');
    if (!value) return undefined;
    try {
      return new crypto.X509Certificate(decodeURIComponent(value));
    } catch {
      return undefined;
    }
  },
};
// --- end MTLS -------------------------------------------------------------------

// --- INTROSPECTION: opaque tokens, RFC 7662 / RFC 9701, RFC 7009 (tests/it/introspection.rs)
const OPAQUE_RESOURCE_PREFIX = 'urn:test:opaque';
const introspectionClients = [{
  client_id: 'introspect-client',
  client_secret: 'introspect-secret',
  grant_types: [],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  introspection_signed_response_alg: 'RS256',
}, {
  client_id: 'introspect-post-client',
  client_secret: 'introspect-secret',
  grant_types: [],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_post',
}];
if (args['client-jwks']) {
  let clientJwks;
  try {
    clientJwks = JSON.parse(fs.readFileSync(args['client-jwks'], 'utf8'));
  } catch (err) {
    fail(`cannot read --client-jwks ${args['client-jwks']}: ${err.message}`);
  }
  introspectionClients.push({
    client_id: 'introspect-jwt-client',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: clientJwks,
  });
}
const introspectionFeatures = {
  introspection: { enabled: true },
  jwtIntrospection: { enabled: true },
  revocation: { enabled: true },
};
// --- end INTROSPECTION -----------------------------------------------------------

const provider = new Provider(issuer, {
  jwks,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials', 'authorization_code'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }, ...dpopClients, MTLS_CLIENT, ...introspectionClients],
  // oidc-provider accepts only the client's registered auth method:
  // client_secret_basic (HTTP Basic test-client:test-secret).
  features: {
    mTLS: MTLS_FEATURE,
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    ...introspectionFeatures,
    ...dpopFeatures,
    ...backchannelFeatures,
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: RESOURCE_SCOPE,
        audience: resourceIndicator,
        accessTokenTTL,
        accessTokenFormat: resourceIndicator.startsWith(OPAQUE_RESOURCE_PREFIX) ? 'opaque' : 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: stepUpTokenClaims,
  // the devInteractions login form takes any login name as the account id
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  // HTML error pages (authorization flow) as JSON: readable in test logs
  renderError: (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;
for (const c of [CLIENT_ID, DPOP_CLIENT_ID, MTLS_CLIENT.client_id, ...introspectionClients.map((c) => c.client_id)]) {
  takenClientIds.add(c);
}

const stats = {
  jwks_requests: 0,
  discovery_requests: 0,
  oauth_metadata_requests: 0,
  token_requests: 0,
  introspection_requests: 0,
  revocation_requests: 0,
};
const jwksPath = new URL(provider.urlFor('jwks')).pathname;
const tokenPath = new URL(provider.urlFor('token')).pathname;
const introspectionPath = new URL(provider.urlFor('introspection')).pathname;
const revocationPath = new URL(provider.urlFor('revocation')).pathname;

// --- the admin ID-token flow -------------------------------------------------

// node:http rather than fetch: Set-Cookie arrives as an array on every
// supported node version (fetch's Headers.getSetCookie is newer than node 18).
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(url, issuer), { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        text: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A minimal cookie jar: name -> value, path ignored (every cookie goes on
// every request; the flow only ever talks to this one origin).
function updateJar(jar, res) {
  for (const line of res.headers['set-cookie'] ?? []) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => /^\s*expires=.*1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

async function step(jar, url, init = {}) {
  const headers = { ...init.headers };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await request(url, { ...init, headers });
  updateJar(jar, res);
  return res;
}

// stepUp.client = {id, secret} (default test-client) and stepUp.jar (a browser's
// cookies, to continue its provider session; default a fresh one) are for the
// BACK-CHANNEL LOGOUT routes.
async function genuineIdToken(sub, nonce, stepUp = {}) {
  const jar = stepUp.jar ?? new Map();
  const clientId = stepUp.client?.id ?? CLIENT_ID;
  const clientSecret = stepUp.client?.secret ?? CLIENT_SECRET;
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const state = crypto.randomBytes(8).toString('base64url');
  const auth = new URL(provider.urlFor('authorization'));
  auth.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: stepUp.scope ? `openid ${stepUp.scope}` : 'openid',
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(stepUp.resource ? { resource: stepUp.resource } : {}),
  }).toString();

  let res = await step(jar, auth);
  let code;
  for (let hops = 0; hops < 12; hops += 1) {
    if (res.status < 300 || res.status >= 400) {
      throw new Error(`authorization flow: unexpected ${res.status} at hop ${hops}: ${res.text}`);
    }
    const location = new URL(res.headers.location, issuer);
    if (location.href.startsWith(redirectUri)) {
      const error = location.searchParams.get('error');
      if (error) throw new Error(`authorization flow: ${error}: ${location.searchParams.get('error_description')}`);
      if (location.searchParams.get('state') !== state) throw new Error('authorization flow: state mismatch');
      code = location.searchParams.get('code');
      break;
    }
    const interaction = location.pathname.match(/^\/interaction\/([^/]+)$/);
    if (interaction) {
      // GET the screen (as a browser would), find out which prompt it is, submit it.
      const page = await step(jar, location);
      const html = page.text;
      const prompt = html.match(/name="prompt" value="(\w+)"/)?.[1];
      if (prompt !== 'login' && prompt !== 'consent') {
        throw new Error(`authorization flow: unknown interaction page ${page.status}: ${html.slice(0, 500)}`);
      }
      const body = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        body.set('login', sub);
        body.set('password', 'any');
      }
      const loginHeaders = prompt === 'login' && stepUp.acr
        ? { 'x-test-acr': stepUp.acr, ...(stepUp.amr ? { 'x-test-amr': stepUp.amr } : {}) }
        : {};
      res = await step(jar, location, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...loginHeaders },
        body: body.toString(),
      });
    } else {
      res = await step(jar, location);
    }
  }
  if (!code) throw new Error('authorization flow: no code after 12 redirects');

  const tokenRes = await request(provider.urlFor('token'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      ...(stepUp.resource ? { resource: stepUp.resource } : {}),
    }).toString(),
  });
  let tokenResponse;
  try {
    tokenResponse = JSON.parse(tokenRes.text);
  } catch {
    tokenResponse = { raw: tokenRes.text };
  }
  if (tokenRes.status !== 200 || !tokenResponse.id_token) {
    throw new Error(`token endpoint: ${tokenRes.status} ${JSON.stringify(tokenResponse)}`);
  }
  return tokenResponse;
}

// --- the admin back-channel logout routes (BACK-CHANNEL LOGOUT block) -----------

function adminError(ctx, status, message) {
  ctx.status = status;
  ctx.body = { error: message };
}

// GET /admin/login: the genuine authorization code flow as a registered client, in a
// kept browser session.
async function adminLogin(ctx) {
  const clientId = String(ctx.query.client_id || '');
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  if (!client) return adminError(ctx, 400, `unknown client_id ${JSON.stringify(clientId)}`);
  if (!client.redirectUris.includes(redirectUri)) {
    return adminError(ctx, 400, `client ${clientId} must register the redirect_uri ${redirectUri}`);
  }
  let handle = ctx.query.handle ? String(ctx.query.handle) : undefined;
  if (handle && !browserSessions.has(handle)) return adminError(ctx, 400, `unknown handle ${handle}`);
  const sub = String(ctx.query.sub || 'test-user');
  const browser = handle ? browserSessions.get(handle) : { jar: new Map(), idTokens: new Map(), sub };
  const tr = await genuineIdToken(browser.sub, crypto.randomBytes(8).toString('base64url'), {
    resource: 'urn:test:api',
    scope: String(ctx.query.scope || 'users:read'),
    client: { id: client.clientId, secret: client.clientSecret },
    jar: browser.jar,
  });
  if (!handle) {
    handle = crypto.randomBytes(12).toString('base64url');
    browserSessions.set(handle, browser);
  }
  browser.idTokens.set(client.clientId, tr.id_token);
  browser.lastClientId = client.clientId;
  ctx.body = {
    handle,
    client_id: client.clientId,
    sub: browser.sub,
    sid: sidOf(tr.id_token) ?? null,
    access_token: tr.access_token,
    id_token: tr.id_token,
    token_response: tr,
  };
}

// GET /admin/end_session: the genuine RP-initiated logout of a kept browser session.
async function adminEndSession(ctx) {
  const handle = String(ctx.query.handle || '');
  const browser = browserSessions.get(handle);
  if (!browser) return adminError(ctx, 400, `unknown handle ${JSON.stringify(handle)}`);
  const logout = String(ctx.query.logout || 'yes');
  if (logout !== 'yes' && logout !== 'no') return adminError(ctx, 400, 'logout must be yes or no');
  // default: the last client this browser logged in to that is still logged in
  const clientId = ctx.query.client_id
    ? String(ctx.query.client_id)
    : [browser.lastClientId, ...browser.idTokens.keys()].find((c) => browser.idTokens.has(c));
  const idTokenHint = browser.idTokens.get(clientId);
  if (!idTokenHint) return adminError(ctx, 400, `handle ${handle} has no live login${clientId ? ` to ${clientId}` : ''}`);

  const end = new URL(provider.urlFor('end_session'));
  end.search = new URLSearchParams({ id_token_hint: idTokenHint }).toString();
  const page = await step(browser.jar, end);
  const xsrf = page.text.match(/name="xsrf" value="([^"]+)"/)?.[1];
  if (page.status !== 200 || !xsrf) {
    return adminError(ctx, 500, `end_session: no logout form (${page.status}): ${page.text.slice(0, 500)}`);
  }
  // the "Yes, sign me out" button submits logout=yes; "No, stay signed in" submits no
  // `logout` at all (only this client's part of the session ends)
  const form = new URLSearchParams({ xsrf });
  if (logout === 'yes') form.set('logout', 'yes');
  deliveries.set(handle, []);
  let confirm;
  try {
    confirm = await step(browser.jar, provider.urlFor('end_session_confirm'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-test-end-session': handle },
      body: form.toString(),
    });
  } finally {
    ctx.body = { backchannel: deliveries.get(handle) };
    deliveries.delete(handle);
  }
  if (confirm.status !== 303) {
    return adminError(ctx, 500, `end_session confirm: ${confirm.status}: ${confirm.text.slice(0, 500)}`);
  }
  const location = new URL(confirm.headers.location, issuer);
  const done = await step(browser.jar, location);
  if (logout === 'yes') browser.idTokens.clear();
  else browser.idTokens.delete(clientId);
  ctx.body = {
    ...ctx.body,
    confirm_status: confirm.status,
    location: location.href,
    success_status: done.status,
  };
}

// --- middleware: counters, admin routes, JWKS cache header --------------------

provider.use(async (ctx, next) => {
  const started = process.hrtime.bigint();
  const { path } = ctx;
  if (path === '/admin/stats' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    ctx.body = stats;
  } else if (path === '/admin/id_token' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    const sub = ctx.query.sub || 'test-user';
    const nonce = ctx.query.nonce || crypto.randomBytes(8).toString('base64url');
    try {
      const tr = await genuineIdToken(String(sub), String(nonce));
      ctx.body = { id_token: tr.id_token, access_token: tr.access_token, token_response: tr };
    } catch (err) {
      ctx.status = 500;
      ctx.body = { error: String(err.message ?? err) };
    }
  } else if (path === '/admin/user_token' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    const options = {
      resource: 'urn:test:api',
      scope: String(ctx.query.scope || 'users:read'),
      acr: ctx.query.acr ? String(ctx.query.acr) : undefined,
      amr: ctx.query.amr ? String(ctx.query.amr) : undefined,
    };
    try {
      const tr = await genuineIdToken(String(ctx.query.sub || 'test-user'), crypto.randomBytes(8).toString('base64url'), options);
      ctx.body = { access_token: tr.access_token, id_token: tr.id_token, token_response: tr };
    } catch (err) {
      ctx.status = 500;
      ctx.body = { error: String(err.message ?? err) };
    }
  } else if ((path === '/admin/login' || path === '/admin/end_session') && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    try {
      await (path === '/admin/login' ? adminLogin(ctx) : adminEndSession(ctx));
    } catch (err) {
      adminError(ctx, 500, String(err.message ?? err));
    }
  } else if (await stepUpLogin(ctx)) {
    // finished here (STEP-UP block)
  } else if (path.startsWith('/admin/')) {
    ctx.status = 404;
    ctx.body = { error: 'no such admin route' };
  } else {
    if (path === jwksPath) stats.jwks_requests += 1;
    else if (path === '/.well-known/openid-configuration') stats.discovery_requests += 1;
    else if (path === '/.well-known/oauth-authorization-server') stats.oauth_metadata_requests += 1;
    else if (path === tokenPath) stats.token_requests += 1;
    else if (path === introspectionPath) stats.introspection_requests += 1;
    else if (path === revocationPath) stats.revocation_requests += 1;
    await next();
    if (path === jwksPath && jwksMaxAge !== undefined && ctx.status === 200) {
      ctx.set('cache-control', `public, max-age=${jwksMaxAge}`);
    }
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // an ID token in a query (end_session's id_token_hint) is not written to the log
  const url = ctx.url.replace(/([?&]id_token_hint=)[^&]*/, '$1<redacted>');
  process.stderr.write(`${new Date().toISOString()} ${ctx.method} ${url} -> ${ctx.status} (${ms.toFixed(1)} ms)\n`);
});

// oidc-provider emits 'server_error' etc.; print them instead of crashing
for (const event of ['server_error', 'grant.error', 'authorization.error', 'jwks.error', 'discovery.error']) {
  provider.on(event, (ctx, err) => process.stderr.write(`${event}: ${err?.stack ?? err}\n`));
}
provider.on('backchannel.success', (ctx, client, accountId, sid) => deliveryOutcome(ctx, client, accountId, sid));
provider.on('backchannel.error', (ctx, err, client, accountId, sid) => {
  process.stderr.write(`backchannel.error: ${client.clientId}: ${err?.message ?? err}\n`);
  deliveryOutcome(ctx, client, accountId, sid, err);
});

server.on('request', provider.callback());

// --- shutdown -----------------------------------------------------------------

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal}: shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (args['exit-with-stdin']) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

// --- ready --------------------------------------------------------------------

if (args['ready-file']) {
  const tmp = `${args['ready-file']}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({
    issuer,
    port: actualPort,
    pid: process.pid,
    jwks_uri: provider.urlFor('jwks'),
    kids: jwks.keys.map((k) => k.kid),
  }));
  fs.renameSync(tmp, args['ready-file']);
}
process.stdout.write(`ready ${issuer}\n`);
