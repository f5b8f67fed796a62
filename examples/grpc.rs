//! A tonic gRPC server behind the token layer (feature `tonic`), and a client calling it.
//!
//! ```text
//! cargo run --example grpc --features tonic
//! ```
//!
//! The layer reads `authorization: Bearer <token>` metadata like any header; a refused
//! call gets `grpc-status` 16 `UNAUTHENTICATED` (7 `PERMISSION_DENIED`, 14
//! `UNAVAILABLE`). Methods read the verified claims from the request's extensions with
//! `Claims::from_extensions`, and an `AuthError` converts into a `tonic::Status`.
//!
//! The service is written by hand over `tonic::server::Grpc` with a UTF-8 string codec,
//! so the example needs neither `protoc` nor prost; a generated service (`tonic-build`)
//! goes behind the layer the same way.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_token_auth::token::Algorithm;
use axum_token_auth::{AuthError, Claims, Key, TokenAuth, TokenRequest};
use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};

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

/// `demo.Greeter/Hello`: greets the token's subject.
async fn hello(request: tonic::Request<String>) -> Result<tonic::Response<String>, Status> {
    let claims = Claims::<axum_token_auth::NoCustomClaims>::from_extensions(request.extensions())?
        .ok_or(AuthError::MissingCredentials)?;
    Ok(tonic::Response::new(format!(
        "hello {}, you said {:?}",
        claims.sub,
        request.get_ref()
    )))
}

#[derive(Debug, Clone, Copy)]
struct Greeter;

impl NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

impl tower::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            Ok(match req.uri().path() {
                "/demo.Greeter/Hello" => {
                    tonic::server::Grpc::new(Utf8)
                        .unary(tower::service_fn(hello), req)
                        .await
                }
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

async fn call(channel: Channel, token: Option<&str>) -> Result<String, Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new("hi".to_owned());
    if let Some(t) = token {
        let value = format!("Bearer {t}")
            .parse()
            .map_err(|_| Status::internal("bad metadata"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let path = PathAndQuery::from_static("/demo.Greeter/Hello");
    Ok(client.unary(request, path, Utf8).await?.into_inner())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A random secret: the client below gets its token from the same handle.
    let auth = TokenAuth::builder()
        .signing_key(Key::generate_hmac(Algorithm::HS256)?)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder()
        .layer(auth.layer())
        .add_service(Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    println!("gRPC server on {addr}");

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let token = auth.issue_access(&TokenRequest::new("alice"))?;
    println!(
        "with a token:    {:?}",
        call(channel.clone(), Some(token.as_str())).await
    );
    let refused = call(channel, None).await.expect_err("no token, no call");
    assert_eq!(refused.code(), Code::Unauthenticated);
    println!(
        "without a token: {:?} {:?}",
        refused.code(),
        refused.message()
    );
    Ok(())
}
