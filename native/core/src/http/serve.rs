//! The HTTP/1.1 server: answers `POST /{app}/predict` for published apps itself and forwards every other
//! request (other routes, bodies it does not take, refusals) unchanged to the TypeScript frontend.
//!
//! Owns the request's life on the native path: reading, submitting to one model (`Answers`, which a
//! selection's fan-out shares), writing the body (`write_answers`) and counting (`record`). Apps with a
//! selection policy go to `selection`; this file must not know how members are picked or combined.

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
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::apps::{AppRoute, AppTable};
use super::metrics::FrontMetrics;
use super::predict::{parse, write_answer, Parsed};
use super::selection::Rng;
use super::tls;
use crate::completion::{Completion, Status};
use crate::runtime::submit::{Inputs, Reply};
use crate::runtime::Shared;

pub type Body = UnsyncBoxBody<Bytes, hyper::Error>;

pub struct Context {
    pub shared: Arc<Shared>,
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    pub max_body_bytes: usize,
    /// Set when the port speaks HTTPS (`--tls-cert`/`--tls-key`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// `host:port` of the TypeScript frontend's query server.
    pub fallback: String,
    pub client: Client<HttpConnector, Body>,
    /// Draws the member of a selection's mode "one".
    pub rng: Rng,
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
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            match ctx.tls.clone() {
                None => serve_connection(stream, ctx, watcher).await,
                Some(acceptor) => {
                    if let Some(stream) = tls::handshake(&acceptor, stream).await {
                        serve_connection(stream, ctx, watcher).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

async fn serve_connection<S>(stream: S, ctx: Arc<Context>, watcher: Watcher)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| handle(ctx.clone(), req));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    // A client that hangs up mid-request is its own problem; nothing to report.
    drop(watcher.watch(connection).await);
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

/// The answers of queries `first..first + len`, slot s holding query `first + s`: filled by the cache at
/// submission or by the engine through a channel. A slot never submitted stays "no connected model".
pub struct Answers {
    first: u64,
    /// Each slot's completion, and whether the cache answered it.
    done: Vec<(Completion, bool)>,
    receivers: Vec<(usize, oneshot::Receiver<Completion>)>,
}

impl Answers {
    pub fn new(first: u64, len: usize) -> Answers {
        let done = (0..len)
            .map(|s| {
                let none = Completion::without_model(
                    first + s as u64,
                    Status::NoConnectedModel,
                    Vec::new(),
                );
                (none, false)
            })
            .collect();
        Answers {
            first,
            done,
            receivers: Vec::new(),
        }
    }

    /// Submits `inputs` to `model` as the queries of slots `at..at + inputs.count()`; false when the core
    /// refused them (then none of them was taken).
    pub fn submit(
        &mut self,
        ctx: &Context,
        model: u32,
        latency_slo_micros: u64,
        at: usize,
        inputs: Inputs<'_>,
    ) -> bool {
        let Answers {
            first,
            done,
            receivers,
        } = self;
        let first = *first + at as u64;
        let before = receivers.len();
        let hit = |i: usize, output: &[u8]| {
            let completion =
                Completion::without_model(first + i as u64, Status::Ok, output.to_vec());
            done[at + i] = (completion, true);
            true
        };
        let reply = Reply::Channels(receivers);
        let submitted = ctx
            .shared
            .submit(model, latency_slo_micros, first, inputs, hit, reply);
        for (slot, _) in &mut receivers[before..] {
            *slot += at;
        }
        submitted.is_ok()
    }

    /// Every slot's completion once the engine answered them all, which it does by their deadline at the
    /// latest.
    pub async fn wait(self) -> Vec<(Completion, bool)> {
        let Answers {
            first,
            mut done,
            receivers,
        } = self;
        for (slot, receiver) in receivers {
            let completion = receiver.await.unwrap_or_else(|_| {
                let why = b"Server is shutting down".to_vec();
                Completion::without_model(first + slot as u64, Status::Dropped, why)
            });
            done[slot] = (completion, false);
        }
        done
    }
}

/// The body answering `count` queries (`{batch_predictions: [...]}` for a batch) and how many of them got
/// the default output; `write(out, i)` writes query i's answer and says whether it is a default.
pub fn write_answers(
    batch: bool,
    count: usize,
    mut write: impl FnMut(&mut Vec<u8>, usize) -> bool,
) -> (Vec<u8>, usize) {
    let mut json = Vec::with_capacity(64 * count + 24);
    if batch {
        json.extend_from_slice(b"{\"batch_predictions\":[");
    }
    let mut defaults = 0;
    for i in 0..count {
        if i > 0 {
            json.push(b',');
        }
        defaults += usize::from(write(&mut json, i));
    }
    if batch {
        json.extend_from_slice(b"]}");
    }
    (json, defaults)
}

/// Answers a parsed predict request; None when the core refused it (the frontend then answers).
async fn predict(
    ctx: &Context,
    app: &str,
    route: &AppRoute,
    parsed: Parsed,
    started: Instant,
) -> Option<Vec<u8>> {
    if let Some(selection) = &route.selection {
        return super::selection::predict(ctx, app, route, selection, parsed, started).await;
    }
    let inputs = parsed.inputs();
    let count = inputs.count();
    let mut answers = Answers::new(ctx.shared.allocate_query_ids(count as u64), count);
    // Without a target every query gets the no-model default.
    if let Some(target) = &route.target {
        if !answers.submit(ctx, target.model, route.latency_slo_micros, 0, inputs) {
            return None;
        }
    }
    let done = answers.wait().await;
    let (json, defaults) = write_answers(parsed.batch, count, |out, i| {
        let (c, _) = &done[i];
        write_answer(out, c.id, c.status, &c.payload, &route.default_output);
        c.status != Status::Ok
    });
    let models = route.target.as_ref().map(|t| (t.label.as_str(), &done[..]));
    record(ctx, app, models, count, defaults, started);
    Some(json)
}

/// Counts as src/api/query/routes.ts counts a predict request of `queries` queries, `defaults` of them
/// answered with the default output; `models` are the completions of each model version asked.
pub fn record<'a>(
    ctx: &Context,
    app: &str,
    models: impl IntoIterator<Item = (&'a str, &'a [(Completion, bool)])>,
    queries: usize,
    defaults: usize,
    started: Instant,
) {
    let mut metrics = ctx.metrics.lock().unwrap_or_else(|p| p.into_inner());
    for (label, done) in models {
        let model = metrics.model(label);
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
    counters.predictions += queries as u64;
    counters.default_outputs += defaults as u64;
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
