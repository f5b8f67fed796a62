//! RFC 9728 protected resource metadata and RFC 8707 audience binding: the document at
//! its well-known location (path insertion), `resource_metadata` in every 401, the
//! audience the resource implies, and the MCP TypeScript SDK (`scripts/mcp`, installed by
//! `scripts/test.sh`) discovering a real OpenID Provider from a bare 401.

use crate::common;

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_token_auth::http::{ErrorRenderer, ProtectedResource};
use axum_token_auth::trust::Issuer;
use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
use axum_token_auth::{
    AuthError, Claims, ConfigError, Key, RequireScope, TokenAuth, TokenRequest, scope,
};
use common::*;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

scope! {
    pub UsersRead = "users:read";
    pub UsersWrite = "users:write";
}

const TENANT: &str = "https://api.example.com/tenant1";
const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource/tenant1";

fn resource_auth(resource: ProtectedResource) -> TokenAuth {
    builder().resource(resource).build().expect("builds")
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
        .merge(auth.web().resource_metadata_router())
}

fn pointer(url: &str) -> String {
    format!("resource_metadata=\"{url}\"")
}

fn challenges(res: &Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_document_is_served_where_rfc_9728_puts_it_and_says_what_the_handle_does() {
    let (_, idp) = idp();
    let auth = builder()
        .trust(idp)
        .dpop(DpopSettings::new("https://api.example.com").policy(DpopPolicy::Required))
        .resource(
            ProtectedResource::new(TENANT)
                .name("Users API")
                .scopes::<(UsersRead, UsersWrite)>()
                .scopes_supported(["users:read", "admin"])
                .authorization_server("https://as.example.com"),
        )
        .build()
        .unwrap();
    let app = router(&auth);

    let res = send_get(&app, "/.well-known/oauth-protected-resource/tenant1", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let doc: Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(
        doc,
        json!({
            "resource": TENANT,
            "authorization_servers": ["https://idp.example.com", "https://as.example.com"],
            "scopes_supported": ["users:read", "users:write", "admin"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Users API",
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "Ed25519", "PS256", "RS256"],
            "dpop_bound_access_tokens_required": true,
        })
    );
    // The root location is not this resource's (its identifier has a path).
    let root = send_get(&app, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(root.status(), StatusCode::NOT_FOUND);

    // A browser client's preflight (the MCP SDK sends `MCP-Protocol-Version`).
    let pre = Request::builder()
        .method(Method::OPTIONS)
        .uri("/.well-known/oauth-protected-resource/tenant1")
        .header("origin", "https://inspector.example")
        .header("access-control-request-headers", "mcp-protocol-version")
        .body(Body::empty())
        .unwrap();
    let res = send(&app, pre).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(res.headers()["access-control-allow-headers"], "*");
}

#[tokio::test]
async fn every_401_names_the_metadata_and_nothing_else_does() {
    let auth = resource_auth(ProtectedResource::new(TENANT));
    let app = router(&auth);

    // No credentials, a garbage token, an expired one: each challenge carries the pointer.
    let res = send_get(&app, "/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&res),
        [format!("Bearer realm=\"api\", {}", pointer(METADATA))]
    );
    let res = send_get(&app, "/me", Some("not-a-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let c = challenges(&res);
    assert!(
        c[0].starts_with("Bearer realm=\"api\", error=\"invalid_token\"")
            && c[0].ends_with(&pointer(METADATA)),
        "{c:?}"
    );
    // The body stays the RFC 6750 JSON.
    let body: Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(body["error"], "invalid_token");

    // 403 (a scope missing) is no authentication challenge: no pointer.
    let token = auth
        .issue_access(&TokenRequest::new("alice").scopes(["other"]))
        .unwrap();
    let res = send_get(&app, "/users", Some(token.as_str())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        challenges(&res)
            .iter()
            .all(|c| !c.contains("resource_metadata")),
        "{:?}",
        challenges(&res)
    );

    // With DPoP on, both schemes' challenges name it.
    let dpop = builder()
        .dpop(DpopSettings::new("https://api.example.com"))
        .resource(ProtectedResource::new(TENANT))
        .build()
        .unwrap();
    let res = send_get(&router(&dpop), "/me", None).await;
    let c = challenges(&res);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(
        c[0].starts_with("Bearer ") && c[1].starts_with("DPoP "),
        "{c:?}"
    );
    assert!(c.iter().all(|c| c.ends_with(&pointer(METADATA))), "{c:?}");
}

/// An application's renderer writes its own challenge: the pointer is added to it all
/// the same, once.
#[tokio::test]
async fn a_custom_renderer_s_challenges_get_the_pointer_too() {
    struct Terse;
    impl ErrorRenderer for Terse {
        fn render(&self, error: &AuthError, _realm: &str) -> Response {
            let mut res = (error.status(), "no").into_response();
            res.headers_mut()
                .insert("www-authenticate", "Bearer".parse().unwrap());
            res
        }
    }
    struct Named;
    impl ErrorRenderer for Named {
        fn render(&self, error: &AuthError, _realm: &str) -> Response {
            let mut res = (error.status(), "no").into_response();
            let v = format!("Bearer {}", pointer("https://elsewhere.example/meta"));
            res.headers_mut()
                .insert("www-authenticate", v.parse().unwrap());
            res
        }
    }
    let terse = builder()
        .error_renderer(Terse)
        .resource(ProtectedResource::new(TENANT))
        .build()
        .unwrap();
    let res = send_get(&router(&terse), "/me", None).await;
    assert_eq!(challenges(&res), [format!("Bearer {}", pointer(METADATA))]);
    let named = builder()
        .error_renderer(Named)
        .resource(ProtectedResource::new(TENANT))
        .build()
        .unwrap();
    let res = send_get(&router(&named), "/me", None).await;
    assert_eq!(
        challenges(&res),
        [format!(
            "Bearer {}",
            pointer("https://elsewhere.example/meta")
        )]
    );
    // Without a resource, nothing is added.
    let plain = builder().build().unwrap();
    let res = send_get(&router(&plain), "/me", None).await;
    assert_eq!(challenges(&res), ["Bearer realm=\"api\""]);
}

#[tokio::test]
async fn the_resource_is_the_audience_of_our_tokens_and_of_issuers_given_none() {
    let auth = resource_auth(ProtectedResource::new(TENANT));
    let app = router(&auth);
    let token = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    let claims = common::oidc::jwt_claims(token.as_str());
    assert_eq!(claims["aud"], TENANT);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(token.as_str())).await).await,
        "alice"
    );

    // Same secret, another resource: its tokens are not for this one.
    let other = resource_auth(ProtectedResource::new("https://api.example.com/tenant2"));
    let foreign = other.issue_access(&TokenRequest::new("alice")).unwrap();
    let res = send_get(&app, "/me", Some(foreign.as_str())).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refusal(res).await.body["error"], "invalid_token");
    // A token with no audience at all (minted before the resource was configured).
    let unbound = auth_without_resource()
        .issue_access(&TokenRequest::new("alice"))
        .unwrap();
    let res = send_get(&app, "/me", Some(unbound.as_str())).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // An explicit audience wins (and the metadata still names the resource).
    let explicit = builder()
        .audience("orders-api")
        .resource(ProtectedResource::new(TENANT))
        .build()
        .unwrap();
    let t = explicit.issue_access(&TokenRequest::new("bob")).unwrap();
    assert_eq!(common::oidc::jwt_claims(t.as_str())["aud"], "orders-api");

    // A trusted issuer given no audience: the resource is required.
    let (key, issuer) = idp();
    let verify_only = TokenAuth::builder()
        .trust(issuer)
        .resource(ProtectedResource::new(TENANT))
        .build()
        .unwrap();
    let app = router(&verify_only);
    let mint = |aud: &str| {
        key.sign(
            &json!({"iss": "https://idp.example.com", "sub": "carol", "aud": aud,
                    "exp": now() + 300, "iat": now()}),
            &json!({}),
        )
    };
    let ok = send_get(&app, "/me", Some(&mint(TENANT))).await;
    assert_eq!(ok_body(ok).await, "carol");
    let res = send_get(&app, "/me", Some(&mint("https://other.example"))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Without a resource, an issuer with no audience is still a configuration error.
    let no_aud = TokenAuth::builder().trust(idp().1).build();
    assert!(no_aud.is_err());
}

/// A provider with a static RSA key (no audience configured).
fn idp() -> (common::oidc::TestKey, Issuer) {
    let key = common::oidc::TestKey::generate("idp-1");
    let public = Key::from_pem(jsonwebtoken::Algorithm::RS256, key.public_pem())
        .unwrap()
        .with_kid("idp-1");
    (key, Issuer::keys("https://idp.example.com", [public]))
}

fn auth_without_resource() -> TokenAuth {
    builder().build().unwrap()
}

#[test]
fn bad_identifiers_are_configuration_errors() {
    for bad in ["api.example.com", "https://api.example.com/?t=1", "urn:api"] {
        let r = builder().resource(ProtectedResource::new(bad)).build();
        assert!(
            matches!(r, Err(ConfigError::InvalidResource(_))),
            "{bad}: {r:?}"
        );
    }
}

#[tokio::test]
async fn signed_metadata_is_the_document_signed_by_the_handle_s_key() {
    let rsa = common::oidc::TestKey::generate("meta-1");
    let key = Key::from_pem(jsonwebtoken::Algorithm::RS256, rsa.private_pem())
        .unwrap()
        .with_kid("meta-1");
    let auth = TokenAuth::builder()
        .signing_key(key)
        .issuer("https://api.example.com")
        .resource(
            ProtectedResource::new("https://api.example.com")
                .jwks_uri("https://api.example.com/.well-known/jwks.json")
                .signed_metadata(),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/.well-known/jwks.json", auth.web().jwks_route())
        .merge(auth.web().resource_metadata_router());
    let res = send_get(&app, "/.well-known/oauth-protected-resource", None).await;
    let doc: Value = serde_json::from_str(&body_text(res).await).unwrap();
    let jwt = doc["signed_metadata"].as_str().expect("signed_metadata");
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(
        &body_text(send_get(&app, "/.well-known/jwks.json", None).await).await,
    )
    .unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.kid.as_deref(), Some("meta-1"));
    let jwk = jwks.find("meta-1").expect("the signing key is published");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .expect("the signature verifies with the published key")
            .claims;
    assert_eq!(claims["iss"], "https://api.example.com");
    assert_eq!(claims["resource"], doc["resource"]);
    assert_eq!(claims["jwks_uri"], doc["jwks_uri"]);
    assert_eq!(
        claims["bearer_methods_supported"],
        doc["bearer_methods_supported"]
    );
    // Signed once per keyring (a GET is unauthenticated): the same JWT again, a new one
    // after a rotation.
    let again = |app: Router| async move {
        let res = send_get(&app, "/.well-known/oauth-protected-resource", None).await;
        let doc: Value = serde_json::from_str(&body_text(res).await).unwrap();
        doc["signed_metadata"].as_str().unwrap().to_owned()
    };
    assert_eq!(again(app.clone()).await, jwt);
    let next = common::oidc::TestKey::generate("meta-2");
    auth.rotate_signing_key(
        Key::from_pem(jsonwebtoken::Algorithm::RS256, next.private_pem())
            .unwrap()
            .with_kid("meta-2"),
    )
    .unwrap();
    let rotated = again(app).await;
    assert_eq!(
        jsonwebtoken::decode_header(&rotated)
            .unwrap()
            .kid
            .as_deref(),
        Some("meta-2")
    );
}

// ---------------------------------------------------------------------------
// The MCP TypeScript SDK against a real OpenID Provider
// ---------------------------------------------------------------------------

fn mcp_script() -> PathBuf {
    let script = std::env::var_os("TEST_MCP_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mcp/discover.mjs"));
    assert!(
        script
            .with_file_name("node_modules")
            .join("@modelcontextprotocol/sdk")
            .is_dir(),
        "the MCP SDK is missing: run the tests through scripts/test.sh, or `npm ci --prefix scripts/mcp`"
    );
    script
}

/// What the SDK did, as `discover.mjs` prints it.
pub(crate) async fn mcp_discover(server_url: &str, client_id: &str, mode: &str) -> Value {
    let out = tokio::process::Command::new(common::oidc::node_bin())
        .arg(mcp_script())
        .args([server_url, client_id, mode])
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "discover.mjs: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "discover.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The query parameters of `url`.
pub(crate) fn query(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An MCP endpoint behind the layer, on a real socket, for resource `base + path`.
#[cfg(feature = "oidc")]
async fn mcp_server(op: &common::oidc::OidcProvider, path: &str) -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{base}{path}");
    let auth = TokenAuth::builder()
        .trust(Issuer::discover(op.issuer()))
        .resource(ProtectedResource::new(&resource).scopes::<(UsersRead, UsersWrite)>())
        .build()
        .unwrap();
    let endpoint = if path.is_empty() { "/mcp" } else { path };
    let app = Router::new()
        .route(endpoint, post(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
        .merge(auth.web().resource_metadata_router());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (resource, format!("{base}{endpoint}"))
}

/// The MCP SDK's first connection, as every MCP client makes it: from the bare 401 to
/// the authorization request at the real provider, with our resource and scopes; and
/// its well-known discovery with and without a path in the resource identifier.
#[cfg(feature = "oidc")]
#[tokio::test]
async fn the_mcp_sdk_finds_the_authorization_server_from_a_bare_401() {
    use common::oidc::{CLIENT_ID, OidcProvider, TestKey};
    let op = OidcProvider::start(&[TestKey::generate("mcp-1")]).await;
    let authorize = op.discovery().await["authorization_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in ["", "/tenant1"] {
        let (resource, server) = mcp_server(&op, path).await;
        let metadata_url = ProtectedResource::new(&resource).metadata_url();
        let seen = mcp_discover(&server, CLIENT_ID, "transport").await;
        assert_eq!(seen["error"], Value::Null, "{path}: {seen}");
        assert_eq!(seen["challenge"]["status"], 401, "{seen}");
        assert_eq!(
            seen["challenge"]["resourceMetadataUrl"],
            metadata_url.as_str()
        );
        let url = seen["authorizationUrl"]
            .as_str()
            .expect("an authorization URL");
        assert!(url.starts_with(&authorize), "{url} vs {authorize}");
        let q = query(url);
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["resource"], resource, "RFC 8707: the resource, verbatim");
        assert_eq!(q["scope"], "users:read users:write");
        assert_eq!(q["code_challenge_method"], "S256");
        // Well-known discovery with no hint: path insertion (RFC 9728 §3.1).
        assert_eq!(seen["wellKnown"]["resource"], resource.as_str(), "{seen}");
        assert_eq!(
            seen["wellKnown"]["authorization_servers"],
            json!([op.issuer()])
        );
    }
}

/// The quickstart's contract: with `OIDC_ISSUER` and no `OIDC_AUDIENCE`, an MCP client
/// finds the provider from a bare 401 of `/me`, and the provider's tokens are accepted
/// when minted for `RESOURCE_URL` (default: the listen address), refused otherwise.
#[cfg(feature = "oidc")]
#[tokio::test]
async fn an_mcp_client_finds_the_quickstart_s_provider_and_its_tokens_are_bound_to_resource_url() {
    use common::oidc::{CLIENT_ID, OidcProvider, RESOURCE, TestKey};
    let op = OidcProvider::start(&[TestKey::generate("qs-1")]).await;
    let (_child, base) = crate::examples::spawn_quickstart(&[("OIDC_ISSUER", op.issuer())]).await;
    // Its readiness probe names the provider's key set, fresh once fetched.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = reqwest::get(format!("{base}/health/keys")).await.unwrap();
        let status = res.status();
        let sets: Value = res.json().await.unwrap();
        if status == 200 {
            assert_eq!(sets[0]["issuer"], op.issuer(), "{sets}");
            assert_eq!(sets[0]["state"], "fresh", "{sets}");
            assert_eq!(sets[0]["source"], "discovery", "{sets}");
            break;
        }
        assert_eq!(
            (status.as_u16(), &sets[0]["state"]),
            (503, &json!("not_ready")),
            "{sets}"
        );
        assert!(std::time::Instant::now() < deadline, "never fresh: {sets}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let seen = mcp_discover(&format!("{base}/me"), CLIENT_ID, "auth").await;
    assert_eq!(seen["error"], Value::Null, "{seen}");
    assert_eq!(seen["challenge"]["status"], 401);
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource");
    assert_eq!(
        seen["challenge"]["resourceMetadataUrl"],
        metadata_url.as_str()
    );
    let q = query(
        seen["authorizationUrl"]
            .as_str()
            .expect("an authorization URL"),
    );
    assert_eq!(q["resource"], base);
    assert_eq!(q["scope"], "users:read users:write admin");
    assert_eq!(
        seen["wellKnown"]["authorization_servers"],
        json!([op.issuer()])
    );

    let http = reqwest::Client::new();
    let me = |token: String| {
        let http = http.clone();
        let url = format!("{base}/me");
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let bound = op.client_credentials_token("users:read", &base).await;
    let res = me(bound).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let other = op.client_credentials_token("users:read", RESOURCE).await;
    let res = me(other).await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"invalid_token\"")
            && challenge.ends_with(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
}

#[test]
fn the_metadata_url_of_a_loopback_resource() {
    let r = ProtectedResource::new("http://127.0.0.1:3000");
    assert_eq!(
        r.metadata_url(),
        "http://127.0.0.1:3000/.well-known/oauth-protected-resource"
    );
}
