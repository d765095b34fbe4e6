//! The HTTP/1.1 server: answers `POST /{app}/predict` for published apps itself and forwards every other
//! request (other routes, bodies it does not take, refusals) unchanged to the TypeScript frontend.
//!
//! Owns the request's life on the native path: reading, submitting to one model (`Answers`, which a
//! selection's fan-out shares), writing the body (`write_answers`) and counting (`record`). Apps with a
//! selection policy go to `selection`; this file must not know how members are picked or combined.
//!
//! Load control happens here, before the frontend sees anything (`limits::Limits`): connections over the
//! cap are closed at once, slow heads and idle connections by `limits::Watched`, slow bodies by a
//! timeout. The refusals that must not wait for the frontend (a declared body over the limit, a query
//! over an admission bound) are answered here, with the frontend's status, code and words
//! (`refusal`); tests/limits_test.ts holds both paths to the same body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    TRANSFER_ENCODING,
};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};

use super::apps::{AppRoute, AppTable};
use super::drain::{Begun, Drain, Ticket};
use super::limits::{Limits, Phase, Watch, Watched};
use super::metrics::FrontMetrics;
use super::predict::{parse, write_answer, Parsed};
use super::selection::Rng;
use super::tls;
use crate::completion::{Completion, Status};
use crate::runtime::submit::{Inputs, Refused, Reply};
use crate::runtime::Shared;

pub type Body = UnsyncBoxBody<Bytes, hyper::Error>;

pub struct Context {
    pub shared: Arc<Shared>,
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    pub limits: Limits,
    /// Set when the port speaks HTTPS (`--tls-cert`/`--tls-key`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// `host:port` of the TypeScript frontend's query server.
    pub fallback: String,
    pub client: Client<HttpConnector, Body>,
    /// Draws the member of a selection's mode "one".
    pub rng: Rng,
    /// Connections open now, across every thread serving the port (`Limits::max_connections`).
    pub open: Arc<Semaphore>,
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

/// Accepts connections until `stop` fires, then takes those the kernel had already queued (their clients
/// saw the connection open and may have sent a request), closes the listener, and lets the requests
/// already taken finish (`drain` says which) for up to the drain time `stop` carries (none when its sender
/// is gone).
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<Context>,
    mut stop: oneshot::Receiver<Duration>,
) {
    let drain = Drain::default();
    let drain_for = loop {
        let accepted = tokio::select! {
            drain_for = &mut stop => break drain_for.unwrap_or_default(),
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => take(stream, &ctx, &drain),
            Err(err) => {
                // Out of descriptors, say: keep serving the connections there are.
                eprintln!("clipper core: accepting a query connection failed: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // Closing a listener resets every connection still in its accept queue, so they are taken first: the
    // reactor may not have reported them yet, hence the direct, non-blocking accepts until none is left.
    if let Ok(listener) = listener.into_std() {
        while let Ok((stream, _)) = listener.accept() {
            let stream = stream
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpStream::from_std(stream));
            if let Ok(stream) = stream {
                take(stream, &ctx, &drain);
            }
        }
    }
    let _ = tokio::time::timeout(drain_for, drain.shutdown()).await;
}

/// Serves one accepted connection on its own task, or closes it at once when the front is at its cap (so
/// that the connections there are keep being served).
fn take(stream: TcpStream, ctx: &Arc<Context>, drain: &Drain) {
    let Ok(permit) = ctx.open.clone().try_acquire_owned() else {
        count(ctx, |load| &load.connections_refused);
        return;
    };
    // Answers are small and latency matters more than segment count.
    let _ = stream.set_nodelay(true);
    let ctx = ctx.clone();
    let ticket = drain.ticket();
    tokio::spawn(async move {
        let watch = Watch::new();
        match ctx.tls.clone() {
            None => serve_connection(stream, &ctx, &watch, ticket).await,
            Some(acceptor) => {
                if let Some(stream) = tls::handshake(&acceptor, stream).await {
                    serve_connection(stream, &ctx, &watch, ticket).await;
                }
            }
        }
        // One that was too slow is counted (hyper takes a timed-out read between requests for a clean
        // close, so not by the result).
        match watch.expired() {
            Some(Phase::Head) => count(&ctx, |load| &load.header_timeouts),
            Some(Phase::Idle) => count(&ctx, |load| &load.idle_timeouts),
            _ => {}
        }
        drop(permit);
    });
}

fn count(ctx: &Context, which: impl FnOnce(&crate::runtime::LoadCounters) -> &AtomicU64) {
    which(&ctx.shared.load).fetch_add(1, Ordering::Relaxed);
}

/// Serves HTTP/1.1 on `stream` (plain or TLS), held to the front's limits, until it ends or is drained.
async fn serve_connection<S>(stream: S, ctx: &Arc<Context>, watch: &Arc<Watch>, ticket: Ticket)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Watched::new(stream, watch.clone(), ctx.limits));
    let begun = Arc::new(Begun::default());
    let service = {
        let (ctx, watch, marks) = (ctx.clone(), watch.clone(), begun.clone());
        hyper::service::service_fn(move |req| {
            marks.mark();
            let (ctx, watch) = (ctx.clone(), watch.clone());
            async move {
                watch.busy();
                let answered = handle(ctx, req).await;
                watch.idle();
                answered
            }
        })
    };
    // `Watched` times heads and idleness itself: hyper's own head timer would also run while idle.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .serve_connection(io, service);
    ticket.serve(connection, begun).await;
}

/// The app of a `POST /{app}/predict` the native path may take: one plain path segment.
fn predict_app(parts: &Parts) -> Option<&str> {
    if parts.method != Method::POST || parts.uri.query().is_some() {
        return None;
    }
    let app = parts
        .uri
        .path()
        .strip_prefix('/')?
        .strip_suffix("/predict")?;
    let plain = !app.is_empty() && !app.contains(['/', '%']);
    plain.then_some(app)
}

/// The declared `content-length`, if any (hyper has checked that it is one number).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Every request's body is read here, within its time and up to one byte over the limit, so that neither
/// a slow client nor a large body reaches the frontend; then the predict path takes it or the frontend
/// gets it, framed anew.
async fn handle(
    ctx: Arc<Context>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let started = Instant::now();
    let max_bytes = ctx.limits.max_body_bytes;
    if declared_length(req.headers()).is_some_and(|declared| declared > max_bytes as u64) {
        // Refused unread; the connection closes, as the unread body cannot be skipped.
        let cause = format!("Cannot accept a request body over {max_bytes} bytes");
        let mut response = refusal(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", &cause);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    let (mut parts, body) = req.into_parts();
    let read = tokio::time::timeout(ctx.limits.body_read_timeout, read_bounded(body, max_bytes));
    let (body, whole) = match read.await {
        Ok(Ok(read)) => read,
        // The client went away mid-body; nobody reads this.
        Ok(Err(_)) => return Ok(status_only(StatusCode::BAD_REQUEST)),
        Err(_) => {
            count(&ctx, |load| &load.body_timeouts);
            let why = "The client took too long to send its request body";
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
        }
    };
    let published = predict_app(&parts).and_then(|app| Some((app.to_owned(), ctx.apps.get(app)?)));
    let parsed = match &published {
        Some((_, route)) if whole => parse(&body, route.input_type),
        _ => None,
    };
    let answered = match (published, parsed) {
        (Some((app, route)), Some(parsed)) => predict(&ctx, &app, &route, parsed, started).await,
        _ => Ok(None),
    };
    Ok(match answered {
        Ok(Some(json)) => json_response(StatusCode::OK, json),
        Err(refused) => refused_response(&refused),
        Ok(None) => {
            // The frontend gets the bytes read (one over the limit at most, enough for its 413).
            parts.headers.remove(CONTENT_LENGTH);
            parts.headers.remove(TRANSFER_ENCODING);
            forward_parts(&ctx, parts, full(body)).await
        }
    })
}

/// Seconds a client refused for load should wait before trying again (src/api/query/routes.ts sends the
/// same).
const RETRY_AFTER_SECONDS: &str = "1";

/// The answer to a submission refused for load: 503 to retry later, 413 for a request no retry can help.
fn refused_response(refused: &Refused) -> Response<Body> {
    let cause = refused.to_string();
    match refused {
        Refused::TooLarge { .. } => {
            refusal(StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large", &cause)
        }
        _ => {
            let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, "overloaded", &cause);
            let retry = HeaderValue::from_static(RETRY_AFTER_SECONDS);
            response.headers_mut().insert(RETRY_AFTER, retry);
            response
        }
    }
}

/// An error the core answers itself, as the frontend would: `code`'s title and status are those of
/// src/errors.ts.
fn refusal(status: StatusCode, code: &str, cause: &str) -> Response<Body> {
    let title = match code {
        "body_too_large" => "Request body too large",
        "batch_too_large" => "Input batch too large",
        _ => "Serving core overloaded",
    };
    let body = serde_json::json!({ "error": title, "cause": cause, "code": code });
    json_response(status, body.to_string())
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
        self.try_submit(ctx, model, latency_slo_micros, at, inputs)
            .is_ok()
    }

    /// `submit`, saying why the core refused.
    pub fn try_submit(
        &mut self,
        ctx: &Context,
        model: u32,
        latency_slo_micros: u64,
        at: usize,
        inputs: Inputs<'_>,
    ) -> Result<(), Refused> {
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
        submitted
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

/// Answers a parsed predict request; None leaves it to the frontend (as when the core refused a
/// selection's member), and a refusal for load is the client's to hear.
async fn predict(
    ctx: &Context,
    app: &str,
    route: &AppRoute,
    parsed: Parsed,
    started: Instant,
) -> Result<Option<Vec<u8>>, Refused> {
    if let Some(selection) = &route.selection {
        return Ok(super::selection::predict(ctx, app, route, selection, parsed, started).await);
    }
    let inputs = parsed.inputs();
    let count = inputs.count();
    let mut answers = Answers::new(ctx.shared.allocate_query_ids(count as u64), count);
    // Without a target every query gets the no-model default.
    if let Some(target) = &route.target {
        match answers.try_submit(ctx, target.model, route.latency_slo_micros, 0, inputs) {
            Err(refused @ (Refused::Overloaded { .. } | Refused::TooLarge { .. })) => {
                return Err(refused)
            }
            Err(_) => return Ok(None),
            Ok(()) => {}
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
    Ok(Some(json))
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
                    model.queue_micros.record(c.queue_micros.into());
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
