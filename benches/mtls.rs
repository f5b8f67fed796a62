//! What a certificate-bound token (RFC 8705) costs at the layer, cache on: a bearer
//! token (the baseline: no certificate is read), then the same subject's token bound to
//! a certificate that comes from the connection (`ClientCertificate`: one SHA-256 of
//! the DER) or from the trusted header (URL-encoded PEM; Envoy's XFCC with `Hash` and
//! `Cert`, or `Hash` alone). Every request carries the same headers, so the difference
//! is the binding step alone. Through an axum `Router`, no sockets.

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::http::{ClientCertificate, MtlsSettings};
use axum_token_auth::token::Confirmation;
use axum_token_auth::{TokenAuth, TokenRequest};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use sha2::Digest as _;
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const PEM: &str = include_str!("../tests/fixtures/mtls/client-a.pem");

fn der() -> Vec<u8> {
    let b64: String = PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

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

fn app(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(auth.layer())
}

/// One request: `token`, the header `name: value`, and the connection's certificate.
fn request(
    token: &str,
    header: (&str, &str),
    cert: Option<&ClientCertificate>,
) -> http::Request<Body> {
    let mut req = http::Request::get("/hello")
        .header("authorization", format!("Bearer {token}"))
        .header(header.0, header.1)
        .body(Body::empty())
        .unwrap();
    if let Some(c) = cert {
        req.extensions_mut().insert(c.clone());
    }
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let der = der();
    let hash: String = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cert = ClientCertificate::from_der(der.clone());
    let pem_header = url_encoded(PEM);
    let xfcc_full = format!(
        "By=spiffe://cluster.local/ns/default/sa/api;Hash={hash};Cert=\"{pem_header}\";Subject=\"CN=mtls-client-a\""
    );
    let xfcc_hash = format!("By=spiffe://cluster.local/ns/default/sa/api;Hash={hash}");

    let build = |header: &str| {
        TokenAuth::builder()
            .hs256_secret(SECRET)
            .mtls(MtlsSettings::header(header))
            .build()
            .unwrap()
    };
    let single = build("x-ssl-client-cert");
    let xfcc = build("x-forwarded-client-cert");
    let bearer = |auth: &TokenAuth| {
        auth.issue_access(&TokenRequest::new("bench"))
            .unwrap()
            .into_string()
    };
    let bound = |auth: &TokenAuth| {
        auth.issue_access(
            &TokenRequest::new("bench").confirmation(Confirmation::certificate_der(&der)),
        )
        .unwrap()
        .into_string()
    };

    type Case<'a> = (
        &'a str,
        Router,
        String,
        (&'a str, &'a str),
        Option<&'a ClientCertificate>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "bearer_cached",
            app(&single),
            bearer(&single),
            ("x-ssl-client-cert", &pem_header),
            None,
        ),
        (
            "bound_connection_certificate_cached",
            app(&single),
            bound(&single),
            ("x-ssl-client-cert", &pem_header),
            Some(&cert),
        ),
        (
            "bound_header_url_encoded_pem_cached",
            app(&single),
            bound(&single),
            ("x-ssl-client-cert", &pem_header),
            None,
        ),
        (
            "bound_header_xfcc_hash_and_cert_cached",
            app(&xfcc),
            bound(&xfcc),
            ("x-forwarded-client-cert", &xfcc_full),
            None,
        ),
        (
            "bound_header_xfcc_hash_only_cached",
            app(&xfcc),
            bound(&xfcc),
            ("x-forwarded-client-cert", &xfcc_hash),
            None,
        ),
    ];
    let mut g = c.benchmark_group("mtls");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for (name, app, token, header, cert) in cases {
        // Never benchmark a broken setup.
        let res = rt
            .block_on(app.clone().oneshot(request(&token, header, cert)))
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let app = app.clone();
                let req = request(&token, header, cert);
                async move { black_box(app.oneshot(req).await.unwrap()) }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
