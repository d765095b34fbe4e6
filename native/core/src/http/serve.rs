//! The HTTP/1.1 server: answers `POST /{app}/predict` for published apps itself and forwards every other
//! request (other routes, bodies it does not take, refusals) unchanged to the TypeScript frontend.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::apps::{AppRoute, AppTable};
use super::metrics::FrontMetrics;
use super::predict::{parse, write_answer};
use crate::completion::{Completion, Status};
use crate::runtime::submit::{Inputs, Reply};
use crate::runtime::Shared;

pub type Body = UnsyncBoxBody<Bytes, hyper::Error>;

pub struct Context {
    pub shared: Arc<Shared>,
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    pub max_body_bytes: usize,
    /// `host:port` of the TypeScript frontend's query server.
    pub fallback: String,
    pub client: Client<HttpConnector, Body>,
}

impl Context {
    pub fn client() -> Client<HttpConnector, Body> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new()).build(connector)
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// How long a stopping front waits for the requests it has taken.
const DRAIN: Duration = Duration::from_secs(10);

/// Accepts connections until `stop` fires, then lets the requests already taken finish (closing idle
/// connections at once) for up to `DRAIN`.
pub async fn serve(listener: TcpListener, ctx: Arc<Context>, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors, say: keep serving the connections there are.
                eprintln!("clipper core: accepting a query connection failed: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Answers are small and latency matters more than segment count.
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        let service = hyper::service::service_fn(move |req| handle(ctx.clone(), req));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        // A client that hangs up mid-request is its own problem; nothing to report.
        tokio::spawn(async move { drop(connection.await) });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// The app of a `POST /{app}/predict` the native path may take: one plain path segment.
fn predict_app(req: &Request<Incoming>) -> Option<&str> {
    if req.method() != Method::POST || req.uri().query().is_some() {
        return None;
    }
    let app = req
        .uri()
        .path()
        .strip_prefix('/')?
        .strip_suffix("/predict")?;
    let plain = !app.is_empty() && !app.contains(['/', '%']);
    plain.then_some(app)
}

async fn handle(ctx: Arc<Context>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let published = predict_app(&req).and_then(|app| Some((app.to_owned(), ctx.apps.get(app)?)));
    let Some((app, route)) = published else {
        return Ok(forward(&ctx, req).await);
    };
    let (mut parts, body) = req.into_parts();
    let Ok((body, whole)) = read_bounded(body, ctx.max_body_bytes).await else {
        // The client went away mid-body; nobody reads this.
        return Ok(status_only(StatusCode::BAD_REQUEST));
    };
    let parsed = if whole {
        parse(&body, route.input_type)
    } else {
        None
    };
    let answered = match parsed {
        Some(parsed) => predict(&ctx, &app, &route, parsed, started).await,
        None => None,
    };
    Ok(match answered {
        Some(json) => json_response(StatusCode::OK, json),
        None => {
            // The frontend gets the bytes read (one over the limit at most, enough for its 413), framed
            // anew.
            parts.headers.remove(CONTENT_LENGTH);
            parts.headers.remove(TRANSFER_ENCODING);
            forward_parts(&ctx, parts, full(body)).await
        }
    })
}

/// Reads a body up to one byte over `max_bytes`; true when that was all of it.
async fn read_bounded(mut body: Incoming, max_bytes: usize) -> Result<(Bytes, bool), hyper::Error> {
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            read.extend_from_slice(&data);
            if read.len() > max_bytes {
                read.truncate(max_bytes.saturating_add(1));
                return Ok((read.freeze(), false));
            }
        }
    }
    Ok((read.freeze(), true))
}

/// Answers a parsed predict request; None when the core refused it (the frontend then answers).
async fn predict(
    ctx: &Context,
    app: &str,
    route: &AppRoute,
    parsed: super::predict::Parsed,
    started: Instant,
) -> Option<Vec<u8>> {
    let inputs = Inputs {
        offsets: &parsed.offsets,
        data: &parsed.data,
    };
    let count = inputs.count();
    let first = ctx.shared.allocate_query_ids(count as u64);
    // Without a target every query gets the no-model default; with one, each is a hit or gets a channel.
    let mut done: Vec<(Completion, bool)> = (0..count)
        .map(|i| {
            let id = first + i as u64;
            let none = Completion::without_model(id, Status::NoConnectedModel, Vec::new());
            (none, false)
        })
        .collect();
    if let Some(target) = &route.target {
        let mut receivers = Vec::new();
        let hit = |i: usize, output: &[u8]| {
            let completion =
                Completion::without_model(first + i as u64, Status::Ok, output.to_vec());
            done[i] = (completion, true);
            true
        };
        let reply = Reply::Channels(&mut receivers);
        if ctx
            .shared
            .submit(
                target.model,
                route.latency_slo_micros,
                first,
                inputs,
                hit,
                reply,
            )
            .is_err()
        {
            return None;
        }
        for (i, receiver) in receivers {
            let completion = receiver.await.unwrap_or_else(|_| {
                let why = b"Server is shutting down".to_vec();
                Completion::without_model(first + i as u64, Status::Dropped, why)
            });
            done[i] = (completion, false);
        }
    }
    let mut json = Vec::with_capacity(64 * count + 24);
    if parsed.batch {
        json.extend_from_slice(b"{\"batch_predictions\":[");
    }
    for (i, (c, _)) in done.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        write_answer(&mut json, c.id, c.status, &c.payload, &route.default_output);
    }
    if parsed.batch {
        json.extend_from_slice(b"]}");
    }
    record(ctx, app, route, &done, started);
    Some(json)
}

/// Counts as src/api/query/routes.ts counts a predict request.
fn record(
    ctx: &Context,
    app: &str,
    route: &AppRoute,
    done: &[(Completion, bool)],
    started: Instant,
) {
    let mut metrics = ctx.metrics.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(target) = &route.target {
        let model = metrics.model(&target.label);
        for (c, cached) in done {
            match c.status {
                _ if *cached => model.cache_hits += 1,
                Status::Ok => {
                    model.predictions += 1;
                    model.latency_micros.record(c.latency_micros.into());
                    model.batch_size.record(c.batch_size.into());
                }
                Status::ModelError => model.errors += 1,
                _ => {}
            }
        }
    }
    let counters = metrics.app(app);
    counters.requests += 1;
    counters.predictions += done.len() as u64;
    counters.default_outputs += done.iter().filter(|(c, _)| c.status != Status::Ok).count() as u64;
    counters
        .latency_micros
        .record(started.elapsed().as_secs_f64() * 1e6);
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

async fn forward(ctx: &Context, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    forward_parts(ctx, parts, body.boxed_unsync()).await
}

/// Sends the request on to the TypeScript frontend and streams its answer back.
async fn forward_parts(ctx: &Context, mut parts: Parts, body: Body) -> Response<Body> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{}{path}", ctx.fallback).parse() else {
        return status_only(StatusCode::BAD_REQUEST);
    };
    parts.uri = uri;
    match ctx.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(|b| b.boxed_unsync()),
        Err(err) => {
            let body = serde_json::json!({
                "error": "Internal error",
                "cause": format!("Cannot reach the query frontend: {err}"),
                "code": "internal",
            });
            json_response(StatusCode::INTERNAL_SERVER_ERROR, body.to_string())
        }
    }
}

fn json_response(status: StatusCode, json: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(json));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
