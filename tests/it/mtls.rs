//! Certificate-bound tokens (RFC 8705 §3) over a real socket: the client certificate
//! from the connection (a `ClientCertificate` the listener adds) or from the one header
//! `MtlsSettings` trusts (PEM, URL-encoded PEM, base64 DER, Envoy's XFCC), refused with
//! the wrong certificate, without one, from an untrusted header or peer; and an
//! identity provider's certificate-bound token (oidc-provider's mTLS feature).
//!
//! The certificates are `tests/fixtures/mtls/client-{a,b}.pem` (see the README there).

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_token_auth::http::{ClientCertificate, MtlsSettings};
use axum_token_auth::token::{
    Binding, Confirmation, InvalidToken, TokenKind, certificate_thumbprint,
};
use axum_token_auth::{AuthError, Claims, TokenAuth, TokenRequest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

/// The trusted single-certificate header of these tests.
const HEADER: &str = "x-ssl-client-cert";
/// Envoy's header.
const XFCC: &str = "x-forwarded-client-cert";

fn pem(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/mtls/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The DER bytes of a PEM certificate.
fn der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).expect("fixture PEM")
}

/// Everything but unreserved characters percent-encoded (nginx's
/// `$ssl_client_escaped_cert` and ALB's header are looser; both decode the same).
fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hex_sha256(der: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A router whose `/me` answers the subject and how the request was bound.
fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/me",
            get(|c: Claims, b: Binding| async move {
                match b {
                    Binding::Certificate { x5t_s256 } => format!("{} cert {x5t_s256}", c.sub),
                    Binding::Bearer => format!("{} bearer", c.sub),
                    other => format!("{} {other:?}", c.sub),
                }
            }),
        )
        .layer(auth.layer().also_accept(TokenKind::Service))
}

/// Serves `app` on 127.0.0.1 with the peer's address in `ConnectInfo<SocketAddr>`.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });
    addr
}

/// A token bound to certificate `a`.
fn bound_token(auth: &TokenAuth, der: &[u8]) -> String {
    auth.issue_access(&TokenRequest::new("alice").confirmation(Confirmation::certificate_der(der)))
        .expect("token issued")
        .into_string()
}

/// `GET /me` with `token` and the headers given: the status and body (or challenge).
async fn get_me(addr: SocketAddr, token: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(30));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    if status.is_success() {
        (status, res.text().await.unwrap())
    } else {
        let challenge = res
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, challenge)
    }
}

/// The 401 `invalid_token` challenge for `reason`.
fn refused(reason: InvalidToken) -> (StatusCode, String) {
    let challenge = expected_challenge(&AuthError::InvalidToken(reason)).unwrap();
    (StatusCode::UNAUTHORIZED, challenge)
}

fn accepted(sub: &str, der: &[u8]) -> (StatusCode, String) {
    let x5t = certificate_thumbprint(der);
    (StatusCode::OK, format!("{sub} cert {x5t}"))
}

#[tokio::test]
async fn a_bound_token_is_accepted_with_its_certificate_in_every_header_form() {
    let (a, b) = (pem("client-a"), pem("client-b"));
    let (der_a, der_b) = (der(&a), der(&b));
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    let addr = serve(router(&auth)).await;
    let token = bound_token(&auth, &der_a);
    let one_line = a.trim_end().replace('\n', " ");
    let url = url_encoded(&a);
    let base64_der = STANDARD.encode(&der_a);
    for (form, value) in [
        ("PEM, spaces for newlines", one_line.as_str()),
        ("URL-encoded PEM", &url),
        ("base64 DER", &base64_der),
    ] {
        let got = get_me(addr, &token, &[(HEADER, value)]).await;
        assert_eq!(got, accepted("alice", &der_a), "{form}");
    }
    // The other certificate, in the same forms: the binding does not match.
    let wrong = url_encoded(&b);
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &wrong)]).await,
        refused(InvalidToken::BindingMismatch)
    );
    let token_b = bound_token(&auth, &der_b);
    assert_eq!(
        get_me(addr, &token_b, &[(HEADER, &url)]).await,
        refused(InvalidToken::BindingMismatch)
    );
    assert_eq!(
        get_me(addr, &token_b, &[(HEADER, &STANDARD.encode(&der_b))]).await,
        accepted("alice", &der_b)
    );
}

#[tokio::test]
async fn envoy_xfcc_binds_by_the_last_elements_cert_or_hash() {
    let (a, b) = (pem("client-a"), pem("client-b"));
    let (der_a, der_b) = (der(&a), der(&b));
    let auth = builder()
        .mtls(MtlsSettings::header("X-Forwarded-Client-Cert"))
        .build()
        .unwrap();
    let addr = serve(router(&auth)).await;
    let token = bound_token(&auth, &der_a);
    let by = "By=spiffe://cluster.local/ns/default/sa/api";
    let (cert_a, hash_a) = (url_encoded(&a), hex_sha256(&der_a));
    let full =
        format!("{by};Hash={hash_a};Cert=\"{cert_a}\";Subject=\"CN=mtls-client-a,O=x\";URI=");
    assert_eq!(
        get_me(addr, &token, &[(XFCC, &full)]).await,
        accepted("alice", &der_a)
    );
    let hash_only = format!("{by};Hash={hash_a}");
    assert_eq!(
        get_me(addr, &token, &[(XFCC, &hash_only)]).await,
        accepted("alice", &der_a)
    );
    // A client-written element in front of the proxy's own (APPEND_FORWARD) is not read.
    let spoofed_first = format!("Cert=\"{}\",{by};Hash={hash_a}", url_encoded(&b));
    assert_eq!(
        get_me(addr, &token, &[(XFCC, &spoofed_first)]).await,
        accepted("alice", &der_a)
    );
    let token_b = bound_token(&auth, &der_b);
    assert_eq!(
        get_me(addr, &token_b, &[(XFCC, &spoofed_first)]).await,
        refused(InvalidToken::BindingMismatch),
        "the client's own element in front is not its certificate"
    );
    // Hash and Cert disagreeing, or an element without either: no certificate.
    let mismatch = format!("Hash={};Cert=\"{cert_a}\"", hex_sha256(&der_b));
    let no_cert = format!("{by};Subject=\"CN=x\"");
    for value in [mismatch, no_cert] {
        assert_eq!(
            get_me(addr, &token, &[(XFCC, &value)]).await,
            refused(InvalidToken::UnprovenBinding),
            "{value}"
        );
    }
}

#[tokio::test]
async fn the_connections_certificate_binds_and_comes_before_any_header() {
    let (der_a, der_b) = (der(&pem("client-a")), der(&pem("client-b")));
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    // As a TLS listener would: the connection's verified certificate in the extensions.
    let on_a =
        serve(router(&auth).layer(axum::Extension(ClientCertificate::from_der(der_a.clone()))))
            .await;
    let token_a = bound_token(&auth, &der_a);
    let token_b = bound_token(&auth, &der_b);
    assert_eq!(get_me(on_a, &token_a, &[]).await, accepted("alice", &der_a));
    assert_eq!(
        get_me(on_a, &token_b, &[]).await,
        refused(InvalidToken::BindingMismatch)
    );
    // A header naming another certificate does not override the connection's.
    let b_header = STANDARD.encode(&der_b);
    assert_eq!(
        get_me(on_a, &token_b, &[(HEADER, &b_header)]).await,
        refused(InvalidToken::BindingMismatch)
    );
    // Without any header configuration the extension alone binds.
    let plain = builder().build().unwrap();
    let on_b =
        serve(router(&plain).layer(axum::Extension(ClientCertificate::from_der(der_b.clone()))))
            .await;
    assert_eq!(
        get_me(on_b, &bound_token(&plain, &der_b), &[]).await,
        accepted("alice", &der_b)
    );
}

#[tokio::test]
async fn without_a_certificate_or_with_an_unreadable_one_a_bound_token_is_401() {
    let a = pem("client-a");
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    let addr = serve(router(&auth)).await;
    let token = bound_token(&auth, &der(&a));
    assert_eq!(
        get_me(addr, &token, &[]).await,
        refused(InvalidToken::UnprovenBinding)
    );
    let cut = &url_encoded(&a)[..200];
    for garbage in [
        "",
        "-----BEGIN CERTIFICATE----- !!! -----END CERTIFICATE-----",
        "%zz",
        cut,
        "MIIB",
    ] {
        assert_eq!(
            get_me(addr, &token, &[(HEADER, garbage)]).await,
            refused(InvalidToken::UnprovenBinding),
            "{garbage:?}: no certificate, never a 500"
        );
    }
    // The header twice (a proxy that appends instead of replacing): neither is read.
    let good = STANDARD.encode(der(&a));
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &good), (HEADER, &good)]).await,
        refused(InvalidToken::UnprovenBinding)
    );
}

#[tokio::test]
async fn a_header_is_never_read_unless_configured() {
    let a = pem("client-a");
    let der_a = der(&a);
    // No mTLS settings: a client sending the right certificate in a header, XFCC
    // included, is only spoofing one.
    let auth = builder().build().unwrap();
    let addr = serve(router(&auth)).await;
    let token = bound_token(&auth, &der_a);
    let xfcc = format!("Hash={};Cert=\"{}\"", hex_sha256(&der_a), url_encoded(&a));
    for (name, value) in [
        (HEADER, STANDARD.encode(&der_a)),
        (XFCC, xfcc.clone()),
        ("x-client-cert", url_encoded(&a)),
    ] {
        assert_eq!(
            get_me(addr, &token, &[(name, &value)]).await,
            refused(InvalidToken::UnprovenBinding),
            "{name}"
        );
    }
    // Configured: only that header, not another one carrying the certificate.
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    let addr = serve(router(&auth)).await;
    let token = bound_token(&auth, &der_a);
    assert_eq!(
        get_me(addr, &token, &[(XFCC, &xfcc)]).await,
        refused(InvalidToken::UnprovenBinding)
    );
}

#[tokio::test]
async fn with_a_proxy_list_the_header_counts_only_from_a_listed_peer() {
    let der_a = der(&pem("client-a"));
    let value = STANDARD.encode(&der_a);
    // The test's client connects from 127.0.0.1.
    for (proxies, trusted) in [
        (vec!["10.0.0.0/8", "::1"], false),
        (vec!["127.0.0.2"], false),
        (vec!["10.0.0.1", "127.0.0.0/8"], true),
        (vec!["127.0.0.1"], true),
    ] {
        let auth = builder()
            .mtls(MtlsSettings::header(HEADER).trusted_proxies(proxies.clone()))
            .build()
            .unwrap();
        let addr = serve(router(&auth)).await;
        let token = bound_token(&auth, &der_a);
        let expected = if trusted {
            accepted("alice", &der_a)
        } else {
            refused(InvalidToken::UnprovenBinding)
        };
        assert_eq!(
            get_me(addr, &token, &[(HEADER, &value)]).await,
            expected,
            "{proxies:?}"
        );
    }
    // A router served without ConnectInfo: the peer is unknown, the header untrusted.
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER).trusted_proxies(["127.0.0.1"]))
        .build()
        .unwrap();
    let addr = spawn_server(router(&auth)).await;
    assert_eq!(
        get_me(addr, &bound_token(&auth, &der_a), &[(HEADER, &value)]).await,
        refused(InvalidToken::UnprovenBinding)
    );
}

#[tokio::test]
async fn an_unbound_token_is_unaffected_by_certificates() {
    let der_a = der(&pem("client-a"));
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    let addr = serve(router(&auth)).await;
    let token = issue(&auth, "bob", &[]);
    let bearer = (StatusCode::OK, "bob bearer".to_owned());
    assert_eq!(get_me(addr, &token, &[]).await, bearer);
    let b64 = STANDARD.encode(&der_a);
    assert_eq!(get_me(addr, &token, &[(HEADER, &b64)]).await, bearer);
    assert_eq!(get_me(addr, &token, &[(HEADER, "garbage")]).await, bearer);
    let on_a =
        serve(router(&auth).layer(axum::Extension(ClientCertificate::from_der(der_a)))).await;
    assert_eq!(get_me(on_a, &token, &[]).await, bearer);
}

#[tokio::test]
async fn a_certificate_bound_service_token_needs_its_certificate() {
    let (a, b) = (pem("client-a"), pem("client-b"));
    let der_a = der(&a);
    let auth = builder()
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    let issued = auth
        .issue_service(
            &TokenRequest::new("billing-worker")
                .confirmation(Confirmation::certificate_der(&der_a)),
        )
        .unwrap();
    assert_eq!(
        issued.token_type(),
        "Bearer",
        "RFC 8705: still a bearer token type"
    );
    let token = issued.into_string();
    let claims = common::oidc::jwt_claims(&token);
    assert_eq!(
        claims["cnf"],
        serde_json::json!({"x5t#S256": certificate_thumbprint(&der_a)})
    );
    let addr = serve(router(&auth)).await;
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &url_encoded(&a))]).await,
        accepted("billing-worker", &der_a)
    );
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &url_encoded(&b))]).await,
        refused(InvalidToken::BindingMismatch)
    );
    assert_eq!(
        get_me(addr, &token, &[]).await,
        refused(InvalidToken::UnprovenBinding)
    );
}

/// An identity provider's certificate-bound token: oidc-provider with its mTLS feature
/// (`certificateBoundAccessTokens`), reading the client certificate from a header of
/// the token request (see `MTLS` in `scripts/oidc/provider.mjs`), binds the client
/// credentials token of `mtls-client` with `cnf.x5t#S256`; our layer, trusting the
/// provider by discovery, accepts it only with that certificate.
#[cfg(feature = "oidc")]
#[tokio::test]
async fn an_identity_providers_certificate_bound_token_needs_the_same_certificate() {
    use axum_token_auth::trust::Issuer;
    use common::oidc::{OidcProvider, RESOURCE, TestKey, jwt_claims};

    let (a, b) = (pem("client-a"), pem("client-b"));
    let der_a = der(&a);
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let token_request = |cert: Option<&str>| {
        let mut req = op
            .http()
            .post(op.token_url())
            .basic_auth("mtls-client", Some("mtls-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", RESOURCE),
                ("scope", "users:read"),
            ]);
        if let Some(c) = cert {
            req = req.header("x-test-client-cert", url_encoded(c));
        }
        req.send()
    };
    // The provider refuses this client a token without a certificate…
    let res = token_request(None).await.unwrap();
    assert_eq!(res.status().as_u16(), 400, "{}", res.text().await.unwrap());
    // … and binds it to the one the request came with.
    let res = token_request(Some(&a)).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_claims(&token);
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        certificate_thumbprint(&der_a),
        "{claims}"
    );
    assert_eq!(claims["client_id"], "mtls-client");
    // An unbound token of the same provider, for contrast.
    let unbound = op.client_credentials_token("users:read", RESOURCE).await;
    assert!(jwt_claims(&unbound).get("cnf").is_none());

    let auth = builder()
        .trust(
            Issuer::discover(op.issuer())
                .audience(RESOURCE)
                .refetch_interval(Duration::from_secs(30)),
        )
        .mtls(MtlsSettings::header(HEADER))
        .build()
        .unwrap();
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let addr = serve(router(&auth)).await;
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &url_encoded(&a))]).await,
        accepted("mtls-client", &der_a)
    );
    assert_eq!(
        get_me(addr, &token, &[(HEADER, &url_encoded(&b))]).await,
        refused(InvalidToken::BindingMismatch)
    );
    assert_eq!(
        get_me(addr, &token, &[]).await,
        refused(InvalidToken::UnprovenBinding)
    );
    assert_eq!(
        get_me(addr, &unbound, &[]).await,
        (StatusCode::OK, "test-client bearer".to_owned())
    );
}

/// Real mutual TLS: a rustls server that asks for a client certificate (any, as
/// RFC 8705 §2.2 self-signed certificates are: the handshake proves the key) and hands
/// the connection's certificate to the layer as a `ClientCertificate` — the way an
/// application terminating TLS itself does it.
mod tls {
    use std::io;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::Router;
    use axum::extract::Request;
    use axum::extract::connect_info::{ConnectInfo, Connected};
    use axum::middleware::Next;
    use axum::serve::{IncomingStream, Listener};
    use axum_token_auth::http::ClientCertificate;
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::HandshakeSignatureValid;
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
    use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::server::TlsStream;

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/mtls/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// Accepts any client certificate whose key signs the handshake.
    #[derive(Debug)]
    struct AnyClientCertificate(Arc<CryptoProvider>);

    impl ClientCertVerifier for AnyClientCertificate {
        fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
            &[]
        }
        fn verify_client_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _now: UnixTime,
        ) -> Result<ClientCertVerified, rustls::Error> {
            Ok(ClientCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
        fn client_auth_mandatory(&self) -> bool {
            false
        }
    }

    /// TCP + TLS handshake (one at a time: enough for a test).
    pub(super) struct TlsListener {
        tcp: TcpListener,
        tls: TlsAcceptor,
    }

    impl Listener for TlsListener {
        type Io = TlsStream<TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                let Ok((tcp, addr)) = self.tcp.accept().await else {
                    continue;
                };
                if let Ok(tls) = self.tls.accept(tcp).await {
                    return (tls, addr);
                }
            }
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            self.tcp.local_addr()
        }
    }

    /// The connection's client certificate, taken once per connection.
    #[derive(Clone)]
    struct PeerCertificate(Option<ClientCertificate>);

    impl Connected<IncomingStream<'_, TlsListener>> for PeerCertificate {
        fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
            let (_, conn) = stream.io().get_ref();
            PeerCertificate(
                conn.peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| ClientCertificate::from_der(leaf.to_vec())),
            )
        }
    }

    /// Serves `app` over mutual TLS on 127.0.0.1.
    pub(super) async fn serve(app: Router) -> SocketAddr {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = CertificateDer::from_pem_file(fixture("server.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(Arc::new(AnyClientCertificate(provider)))
            .with_single_cert(vec![cert], key)
            .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let listener = TlsListener {
            tcp,
            tls: TlsAcceptor::from(Arc::new(config)),
        };
        let app = app.layer(axum::middleware::from_fn(
            |ConnectInfo(peer): ConnectInfo<PeerCertificate>, mut req: Request, next: Next| async move {
                if let Some(cert) = peer.0 {
                    req.extensions_mut().insert(cert);
                }
                next.run(req).await
            },
        ));
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<PeerCertificate>(),
            )
            .await
            .expect("server runs");
        });
        addr
    }

    /// An HTTPS client presenting `client` (`client-a`, `client-b`), or no certificate.
    pub(super) fn client(client: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .danger_accept_invalid_certs(true);
        if let Some(name) = client {
            let cert = std::fs::read(fixture(&format!("{name}.pem"))).unwrap();
            let key = std::fs::read(fixture(&format!("{name}.key"))).unwrap();
            let pem = [cert, key].concat();
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("client identity"));
        }
        b.build().unwrap()
    }
}

#[tokio::test]
async fn over_mutual_tls_the_connections_certificate_binds_the_token() {
    let (der_a, der_b) = (der(&pem("client-a")), der(&pem("client-b")));
    // No header settings: the connection is the only source.
    let auth = builder().build().unwrap();
    let addr = tls::serve(router(&auth)).await;
    let token = bound_token(&auth, &der_a);
    let me = |client: reqwest::Client, token: String| async move {
        let res = client
            .get(format!("https://{addr}/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("TLS request");
        let status = res.status();
        let challenge = res
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, challenge.unwrap_or(res.text().await.unwrap()))
    };
    assert_eq!(
        me(tls::client(Some("client-a")), token.clone()).await,
        accepted("alice", &der_a)
    );
    assert_eq!(
        me(tls::client(Some("client-b")), token.clone()).await,
        refused(InvalidToken::BindingMismatch)
    );
    assert_eq!(
        me(tls::client(None), token.clone()).await,
        refused(InvalidToken::UnprovenBinding)
    );
    assert_eq!(
        me(tls::client(Some("client-b")), bound_token(&auth, &der_b)).await,
        accepted("alice", &der_b)
    );
    let unbound = issue(&auth, "bob", &[]);
    assert_eq!(
        me(tls::client(None), unbound).await,
        (StatusCode::OK, "bob bearer".to_owned())
    );
}
