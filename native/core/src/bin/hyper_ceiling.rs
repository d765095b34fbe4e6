//! The benchmarks' second ceiling: a bare hyper server with the core's own hyper and tokio (one Cargo.lock)
//! and the query port's thread layout (one single-threaded tokio runtime on one thread, HTTP/1.1 with
//! keep-alive, TCP_NODELAY), which parses each body with the core's own predict parser and answers a small
//! JSON object of the predict answer's shape. No queue, no batch, no model: what the native front could
//! answer at most on this machine. Every `deno task bench` scenario measures it beside the bare `Deno.serve`
//! ceiling (`bench/ceiling.ts`).
//!
//! Usage: hyper_ceiling PORT (on 127.0.0.1)

use std::convert::Infallible;

use bytes::Bytes;
use clipper_core::http::predict::parse;
use clipper_core::rpc::InputType;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let Some(parsed) = parse(&body, InputType::Doubles) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let json = format!(
        r#"{{"query_id":1,"output":{},"default":false}}"#,
        parsed.offsets.len().saturating_sub(1)
    );
    let mut response = Response::new(Full::new(Bytes::from(json)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: hyper_ceiling PORT"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                // A client that hangs up is its own problem here.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
