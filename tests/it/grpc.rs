//! gRPC behind the layer: a real tonic server and a real tonic client over a socket.
//! A valid token reaches the method, which reads the subject from the request's
//! extensions; a missing, invalid or expired one is refused by the layer with
//! `grpc-status` 16 (the client sees `Code::Unauthenticated`), a method's own
//! `AuthError` and a `ScopeGuardLayer` refusal become gRPC statuses too, and a non-gRPC request to the same server
//! still gets the RFC 6750 JSON answer.
//!
//! The service is hand-written over `tonic::server::Grpc` with a UTF-8 codec: no protoc,
//! no prost.

use crate::common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_token_auth::{AuthError, Claims, ScopeGuardLayer, TokenAuth, TokenRequest};
use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use http_body_util::BodyExt;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tower::{Layer, ServiceExt};

use common::{auth, builder, issue, raw_hs256, wire_claims};

/// Messages are UTF-8 strings.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8;

impl Codec for Utf8 {
    type Encode = String;
    type Decode = String;
    type Encoder = Utf8;
    type Decoder = Utf8;
    fn encoder(&mut self) -> Utf8 {
        Utf8
    }
    fn decoder(&mut self) -> Utf8 {
        Utf8
    }
}

impl Encoder for Utf8 {
    type Item = String;
    type Error = Status;
    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Utf8 {
    type Item = String;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::invalid_argument("not UTF-8"))
    }
}

/// `demo.Greeter`: `Hello` answers `hello <sub>: <message>`; `Admin` requires the scope
/// `admin` and refuses with the method's own `AuthError` otherwise.
#[derive(Debug, Clone, Copy)]
struct Greeter;

impl NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

async fn hello(request: tonic::Request<String>) -> Result<tonic::Response<String>, Status> {
    let claims = Claims::<axum_token_auth::NoCustomClaims>::from_extensions(request.extensions())?
        .ok_or(AuthError::MissingCredentials)?;
    Ok(tonic::Response::new(format!(
        "hello {}: {}",
        claims.sub,
        request.get_ref()
    )))
}

async fn admin(request: tonic::Request<String>) -> Result<tonic::Response<String>, Status> {
    let claims = Claims::<axum_token_auth::NoCustomClaims>::from_extensions(request.extensions())?
        .ok_or(AuthError::MissingCredentials)?;
    if !claims.has_scope("admin") {
        return Err(AuthError::InsufficientScope {
            required: "admin".into(),
        }
        .into());
    }
    Ok(tonic::Response::new("admin ok".into()))
}

impl tower::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Utf8);
            Ok(match req.uri().path() {
                "/demo.Greeter/Hello" => grpc.unary(tower::service_fn(hello), req).await,
                "/demo.Greeter/Admin" => grpc.unary(tower::service_fn(admin), req).await,
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// The greeter behind `auth`'s layer on a free loopback port.
async fn serve(auth: &TokenAuth) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder().layer(auth.layer()).add_service(Greeter);
    tokio::spawn(async move {
        router
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("gRPC server runs");
    });
    addr
}

/// The greeter behind `auth`'s layer and a scope guard requiring `grpc:call`.
async fn serve_guarded(auth: &TokenAuth) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder()
        .layer(auth.layer())
        .layer(ScopeGuardLayer::all(["grpc:call"]).unwrap())
        .add_service(Greeter);
    tokio::spawn(async move {
        router
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("gRPC server runs");
    });
    addr
}

/// Calls `method` with `message`, sending `Authorization: Bearer <token>` when given.
async fn call(
    addr: SocketAddr,
    method: &'static str,
    token: Option<&str>,
) -> Result<String, Status> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connects");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.expect("client ready");
    let mut request = tonic::Request::new("hi".to_owned());
    if let Some(t) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    client
        .unary(request, PathAndQuery::from_static(method), Utf8)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_valid_token_reaches_the_method_which_sees_the_subject() {
    let auth = auth();
    let addr = serve(&auth).await;
    let token = issue(&auth, "alice", &[]);
    let reply = call(addr, "/demo.Greeter/Hello", Some(&token))
        .await
        .expect("the call succeeds");
    assert_eq!(reply, "hello alice: hi");
}

#[tokio::test]
async fn a_missing_token_is_unauthenticated() {
    let auth = auth();
    let addr = serve(&auth).await;
    let status = call(addr, "/demo.Greeter/Hello", None)
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "authentication is required");
}

#[tokio::test]
async fn invalid_and_expired_tokens_are_unauthenticated() {
    let auth = auth();
    let addr = serve(&auth).await;
    let status = call(addr, "/demo.Greeter/Hello", Some("not.a.token"))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let mut claims = wire_claims("alice", "");
    claims["exp"] = serde_json::json!(common::now() - 3600);
    claims["iat"] = serde_json::json!(common::now() - 7200);
    let expired = raw_hs256(&claims);
    let status = call(addr, "/demo.Greeter/Hello", Some(&expired))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "the token has expired");
}

#[tokio::test]
async fn a_methods_own_auth_error_is_permission_denied() {
    let auth = auth();
    let addr = serve(&auth).await;
    let user = issue(&auth, "alice", &[]);
    let status = call(addr, "/demo.Greeter/Admin", Some(&user))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let admin = auth
        .issue_access(&TokenRequest::new("root").scopes(["admin"]))
        .unwrap()
        .into_string();
    let ok = call(addr, "/demo.Greeter/Admin", Some(&admin)).await;
    assert_eq!(ok.expect("admin passes"), "admin ok");
}

#[tokio::test]
async fn a_non_grpc_request_to_a_tonic_service_gets_the_json_refusal() {
    let auth = auth();
    let service = auth.layer().layer(Greeter);
    let req = http::Request::get("/demo.Greeter/Hello")
        .body(tonic::body::Body::empty())
        .unwrap();
    let res = service.oneshot(req).await.unwrap();
    assert_eq!(res.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"api\"");
    assert!(res.headers().get("grpc-status").is_none());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "unauthorized");

    // The same request as a gRPC call: a trailers-only answer, no body.
    let req = http::Request::post("/demo.Greeter/Hello")
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .unwrap();
    let res = auth.layer().layer(Greeter).oneshot(req).await.unwrap();
    assert_eq!(res.status(), http::StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_scope_guard_in_front_of_a_tonic_server_answers_permission_denied() {
    let auth = auth();
    let addr = serve_guarded(&auth).await;
    let without = issue(&auth, "alice", &[]);
    let status = call(addr, "/demo.Greeter/Hello", Some(&without))
        .await
        .expect_err("refused by the guard");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = call(addr, "/demo.Greeter/Hello", None)
        .await
        .expect_err("refused by the layer");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let with = issue(&auth, "alice", &["grpc:call"]);
    let reply = call(addr, "/demo.Greeter/Hello", Some(&with)).await;
    assert_eq!(reply.expect("the guard lets it through"), "hello alice: hi");
}

/// A revocation store whose backend is unreachable (the store guard sees the same
/// `StoreError::Unavailable` as from Redis or PostgreSQL).
#[derive(Debug)]
struct Unreachable;

#[async_trait::async_trait]
impl axum_token_auth::store::RevocationStore for Unreachable {
    async fn revoke(
        &self,
        _: axum_token_auth::store::TokenDigest,
        _: u64,
    ) -> Result<(), axum_token_auth::store::StoreError> {
        Err(axum_token_auth::store::StoreError::Unavailable(
            "down".into(),
        ))
    }

    async fn is_revoked(
        &self,
        _: &axum_token_auth::store::TokenDigest,
    ) -> Result<bool, axum_token_auth::store::StoreError> {
        Err(axum_token_auth::store::StoreError::Unavailable(
            "down".into(),
        ))
    }

    async fn check(
        &self,
        token: &axum_token_auth::store::RevocationCheck<'_>,
    ) -> Result<bool, axum_token_auth::store::StoreError> {
        self.is_revoked(token.digest).await
    }

    fn check_now(
        &self,
        _: &axum_token_auth::store::RevocationCheck<'_>,
    ) -> Option<Result<bool, axum_token_auth::store::StoreError>> {
        None
    }
}

/// Subject-wide revocation as the store stood for here had it: no cutoffs.
#[async_trait::async_trait]
impl axum_token_auth::store::SubjectRevocation for Unreachable {
    async fn revoke_all_for(
        &self,
        _: &str,
        _: u64,
    ) -> Result<u64, axum_token_auth::store::StoreError> {
        Err(axum_token_auth::store::StoreError::Backend(
            "this store cannot revoke all tokens of a user".into(),
        ))
    }

    async fn subject_cutoff(
        &self,
        _: &str,
    ) -> Result<axum_token_auth::store::SubjectCutoff, axum_token_auth::store::StoreError> {
        Ok(axum_token_auth::store::SubjectCutoff::default())
    }

    async fn revoke_for(
        &self,
        _: &str,
        digest: axum_token_auth::store::TokenDigest,
        until: u64,
    ) -> Result<(), axum_token_auth::store::StoreError> {
        use axum_token_auth::store::RevocationStore;
        self.revoke(digest, until).await
    }
}

#[tokio::test]
async fn a_store_outage_is_unavailable_for_a_grpc_client() {
    let auth = builder()
        .revocation_store(std::sync::Arc::new(Unreachable))
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let token = issue(&auth, "alice", &[]);
    let status = call(addr, "/demo.Greeter/Hello", Some(&token))
        .await
        .expect_err("the token cannot be checked");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
