//! The C ABI: the only door into the core, shaped for `Deno.dlopen` (src/core/binding.ts mirrors it).
//!
//! Rules, rustls-ffi style: every fallible export returns a status code (`CLIPPER_*` below) and writes its
//! outputs into caller buffers; handles come as `clipper_core_new`/`clipper_core_free`; every pointer is
//! checked; panics are caught here and never cross. A failed call leaves a message for
//! `clipper_last_error` on the calling thread. A refused submit takes nothing: the caller still owns the
//! queries and must answer them.
//!
//! Thread use: `clipper_poll_completions` may block on a worker thread while the other calls run on the
//! caller's main thread; `clipper_core_close` wakes it with `CLIPPER_CLOSED`, after which the handle may be
//! freed.
//!
//! A core whose thread panicked (`runtime::failure`) answers `CLIPPER_CORE_FAILED`, with the panic's
//! message and location, to every call that needs its thread, the poll included once drained;
//! `clipper_core_failure` reads that message from any thread. The frontend then exits for its supervisor to
//! restart it: the core is never restarted in-process.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::batching::{Batching, Sizing};
use crate::completion::{write_record, PollError, Status, RECORD_HEADER_BYTES};
use crate::engine::{Command, EngineConfig};
use crate::http::{tls, AppTable, Front, FrontConfig, Limits};
use crate::rpc::zmtp::MAX_MESSAGE_BYTES;
use crate::rpc::InputType;
use crate::runtime::submit::{Admission, Inputs, Refused, Reply};
use crate::runtime::Runtime;

/// Bumped on any change to a signature or record layout; the binding refuses a library that differs.
pub const CLIPPER_ABI_VERSION: u32 = 6;

pub const CLIPPER_OK: i32 = 0;
pub const CLIPPER_NULL_POINTER: i32 = 1;
pub const CLIPPER_INVALID_ARGUMENT: i32 = 2;
pub const CLIPPER_BIND_FAILED: i32 = 3;
pub const CLIPPER_CLOSED: i32 = 4;
pub const CLIPPER_BUFFER_TOO_SMALL: i32 = 5;
pub const CLIPPER_UNKNOWN_MODEL: i32 = 6;
pub const CLIPPER_TIMED_OUT: i32 = 7;
pub const CLIPPER_OVERLOADED: i32 = 8;
pub const CLIPPER_PANIC: i32 = 9;
/// The core thread panicked: nothing more is served; restart the process.
pub const CLIPPER_CORE_FAILED: i32 = 10;
/// A submission of more queries than an admission bound: no retry can help.
pub const CLIPPER_TOO_LARGE: i32 = 11;

/// Read once by `clipper_core_new`: "1" lets `clipper_debug_panic` make the core thread panic.
const FAULT_INJECTION_VAR: &str = "CLIPPER_CORE_FAULT_INJECTION";

/// The opaque handle the frontend holds.
pub struct ClipperCore {
    runtime: Runtime,
    front: Front,
    /// Whether `clipper_debug_panic` may act (`FAULT_INJECTION_VAR` at start).
    fault_injection: bool,
    /// The admin port: its app table stays empty, so it forwards every request to the frontend's admin
    /// server on loopback, and TLS and the connection limits apply to it from here.
    admin: Front,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

type Failure = (i32, String);

fn fail<T>(code: i32, message: impl Into<String>) -> Result<T, Failure> {
    Err((code, message.into()))
}

/// Runs `body`, turning failures and panics into a status code and a last-error message.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> i32 {
    let (code, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return CLIPPER_OK,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            (CLIPPER_PANIC, format!("Serving core panicked: {what}"))
        }
    };
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
    code
}

/// The refusal of a core that no longer takes work: failed (with why) or closed.
fn refused(core: &ClipperCore) -> Failure {
    match core.runtime.shared.failure() {
        Some(why) => (
            CLIPPER_CORE_FAILED,
            format!("The serving core failed: {why}"),
        ),
        None => (CLIPPER_CLOSED, "The serving core is closed".into()),
    }
}

fn check<T>(ptr: *const T, name: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return fail(
            CLIPPER_NULL_POINTER,
            format!("Argument \"{name}\" is a null pointer"),
        );
    }
    Ok(())
}

/// # Safety
/// `core` must be null or a live handle from `clipper_core_new`.
unsafe fn core_ref<'a>(core: *const ClipperCore) -> Result<&'a ClipperCore, Failure> {
    check(core, "core")?;
    Ok(&*core)
}

/// # Safety
/// `ptr` must be null or point to `len` readable bytes.
unsafe fn str_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a str, Failure> {
    check(ptr, name)?;
    std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).or_else(|_| {
        fail(
            CLIPPER_INVALID_ARGUMENT,
            format!("Argument \"{name}\" is not UTF-8"),
        )
    })
}

/// # Safety
/// `out` must be null or writable.
unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> Result<(), Failure> {
    check(out, name)?;
    out.write(value);
    Ok(())
}

#[no_mangle]
pub extern "C" fn clipper_abi_version() -> u32 {
    CLIPPER_ABI_VERSION
}

/// Binds the RPC endpoint and starts the core thread, with a prediction cache of
/// `prediction_cache_bytes` (zero: no cache), taking at most `max_outstanding_queries` queries not yet
/// answered in all and `max_outstanding_per_model` for any one model version; a container announcing a
/// frame over `max_frame_bytes` (1 to 2^30) is disconnected.
///
/// # Safety
/// `endpoint` must point to `endpoint_len` bytes; `out_core` must be writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_core_new(
    endpoint: *const u8,
    endpoint_len: usize,
    replica_timeout_ms: u32,
    busy_replica_timeout_ms: u32,
    max_outstanding_queries: u32,
    max_outstanding_per_model: u32,
    prediction_cache_bytes: u64,
    max_frame_bytes: u64,
    out_core: *mut *mut ClipperCore,
) -> i32 {
    guard(|| {
        check(out_core, "out_core")?;
        let endpoint = str_arg(endpoint, endpoint_len, "endpoint")?;
        let limits = [
            replica_timeout_ms,
            busy_replica_timeout_ms,
            max_outstanding_queries,
            max_outstanding_per_model,
        ];
        if limits.contains(&0) {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                "Timeouts and the outstanding-query limits must be positive",
            );
        }
        let config = EngineConfig {
            replica_timeout: Duration::from_millis(replica_timeout_ms.into()),
            busy_replica_timeout: Duration::from_millis(busy_replica_timeout_ms.into()),
        };
        if max_frame_bytes == 0 || max_frame_bytes > MAX_MESSAGE_BYTES as u64 {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                format!("The frame limit must be from 1 to {MAX_MESSAGE_BYTES} bytes"),
            );
        }
        let cache_bytes = usize::try_from(prediction_cache_bytes).unwrap_or(usize::MAX);
        let admission = Admission {
            max_outstanding: max_outstanding_queries as usize,
            max_per_model: max_outstanding_per_model as usize,
        };
        let runtime = Runtime::start(
            endpoint,
            config,
            cache_bytes,
            admission,
            max_frame_bytes as usize,
        )
        .or_else(|e| fail(CLIPPER_BIND_FAILED, e))?;
        let core = Box::new(ClipperCore {
            runtime,
            front: Front::default(),
            fault_injection: std::env::var(FAULT_INJECTION_VAR).is_ok_and(|v| v == "1"),
            admin: Front::default(),
        });
        write_out(out_core, Box::into_raw(core), "out_core")
    })
}

/// Stops the core thread (and the query front on it) and wakes any waiting `clipper_poll_completions`
/// with `CLIPPER_CLOSED`. Queries not yet answered are abandoned: the caller answers them. Idempotent.
///
/// # Safety
/// `core` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn clipper_core_close(core: *const ClipperCore) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        core.front.stop(Duration::ZERO);
        core.admin.stop(Duration::ZERO);
        core.runtime.stop();
        Ok(())
    })
}

/// Frees a handle (closing it first if needed). Null is ignored.
///
/// # Safety
/// `core` must be null or a handle from `clipper_core_new` that no call is still using.
#[no_mangle]
pub unsafe extern "C" fn clipper_core_free(core: *mut ClipperCore) {
    if !core.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(core))));
    }
}

/// Registers or reconfigures the model version `name:version` and writes its id to `out_model`.
/// `batch_size` ≥ 1 is a fixed size; −1 is adaptive, sized by `sizing` (0: AIMD against
/// `latency_objective_micros`; 1: the largest batch whose estimated p99 latency fits the earliest deadline).
/// A replica with room in its batch waits up to `batch_delay_micros` for more queries (0: never), never so
/// long that the earliest deadline waiting would be missed.
///
/// # Safety
/// Pointers must be valid for their lengths; `out_model` must be writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn clipper_model_configure(
    core: *const ClipperCore,
    name: *const u8,
    name_len: usize,
    version: *const u8,
    version_len: usize,
    input_type: u32,
    batch_size: i32,
    sizing: u32,
    batch_delay_micros: u64,
    latency_objective_micros: u64,
    out_model: *mut u32,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        let name = str_arg(name, name_len, "name")?;
        let version = str_arg(version, version_len, "version")?;
        let Some(input_type) = InputType::from_id(input_type) else {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                format!("Unknown input type id {input_type}"),
            );
        };
        if batch_size == 0 || batch_size < -1 {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                format!("Invalid batch size {batch_size}: use -1 or >= 1"),
            );
        }
        let Some(sizing) = Sizing::from_id(sizing) else {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                format!("Unknown batch sizing id {sizing}: use 0 (AIMD) or 1 (quantile)"),
            );
        };
        check(out_model, "out_model")?;
        let shared = &core.runtime.shared;
        let model = shared.table.id_for(name, version);
        let batching = Batching {
            batch_size,
            sizing,
            delay: Duration::from_micros(batch_delay_micros),
        };
        let latency_objective = Duration::from_micros(latency_objective_micros.max(1));
        shared
            .send(Command::Configure {
                model,
                input_type,
                batching,
                latency_objective,
            })
            .map_err(|_| refused(core))?;
        write_out(out_model, model, "out_model")
    })
}

/// Stops serving a model version; its waiting queries are answered as dropped.
///
/// # Safety
/// `core` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn clipper_model_remove(core: *const ClipperCore, model: u32) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        let shared = &core.runtime.shared;
        if !shared.table.contains(model) {
            return fail(CLIPPER_UNKNOWN_MODEL, format!("Unknown model id {model}"));
        }
        shared
            .send(Command::Remove { model })
            .map_err(|_| refused(core))
    })
}

/// Submits `count` queries for one model, with the caller's query ids `first_id`, `first_id + 1`, ...;
/// `offsets` holds `count + 1` byte offsets into `data` (input i is `data[offsets[i]..offsets[i+1]]`,
/// already in wire encoding).
///
/// Queries whose output is in the prediction cache are answered at once: their completion records (layout
/// in `completion`, status OK, latency and batch size 0) go into `hits` and their count into `out_hits`;
/// a hit whose record does not fit is queued like a miss. The other queries are queued, their data copied
/// once, and answered through `clipper_poll_completions`. On any failure nothing is taken and `hits` means
/// nothing.
///
/// # Safety
/// `offsets` must hold `count + 1` elements; `data` must hold `data_len` bytes;
/// `hits` must hold `hits_len` writable bytes; `out_hits` writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn clipper_submit(
    core: *const ClipperCore,
    model: u32,
    latency_slo_micros: u64,
    count: u32,
    first_id: u64,
    offsets: *const u32,
    data: *const u8,
    data_len: usize,
    hits: *mut u8,
    hits_len: usize,
    out_hits: *mut u32,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        check(offsets, "offsets")?;
        check(hits, "hits")?;
        check(out_hits, "out_hits")?;
        // An empty buffer may arrive as a null pointer (all inputs empty strings, say).
        if data_len > 0 {
            check(data, "data")?;
        }
        let offsets = std::slice::from_raw_parts(offsets, count as usize + 1);
        let data: &[u8] = if data_len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(data, data_len)
        };
        let inputs = Inputs { offsets, data };
        if !inputs.well_formed() {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                "Offsets must start at 0, never decrease and end at data_len",
            );
        }
        let hits = std::slice::from_raw_parts_mut(hits, hits_len);
        let (mut hit_count, mut used) = (0u32, 0usize);
        let take_hit = |i: usize, output: &[u8]| {
            if used + RECORD_HEADER_BYTES + output.len() > hits.len() {
                return false;
            }
            write_record(
                &mut hits[used..],
                first_id + i as u64,
                Status::Ok,
                0,
                0,
                0,
                output,
            );
            used += RECORD_HEADER_BYTES + output.len();
            hit_count += 1;
            true
        };
        core.runtime
            .shared
            .submit(
                model,
                latency_slo_micros,
                first_id,
                inputs,
                take_hit,
                Reply::Poll,
            )
            .or_else(|why| {
                let code = match why {
                    Refused::UnknownModel(_) => CLIPPER_UNKNOWN_MODEL,
                    Refused::Overloaded { .. } => CLIPPER_OVERLOADED,
                    Refused::TooLarge { .. } => CLIPPER_TOO_LARGE,
                    Refused::Closed => return Err(refused(core)),
                };
                fail(code, why.to_string())
            })?;
        write_out(out_hits, hit_count, "out_hits")
    })
}

/// Reserves `count` consecutive query ids and writes the first to `out_first`: ids are shared with the
/// native HTTP front, so callers of `clipper_submit` take theirs here too.
///
/// # Safety
/// `core` must be a live handle; `out_first` writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_allocate_query_ids(
    core: *const ClipperCore,
    count: u32,
    out_first: *mut u64,
) -> i32 {
    guard(|| {
        let first = core_ref(core)?
            .runtime
            .shared
            .allocate_query_ids(count.into());
        write_out(out_first, first, "out_first")
    })
}

/// Starts the native HTTP front on `host:port` (0: any free port), on the core thread, and writes the
/// bound port to `out_port`. It answers `POST /{app}/predict` for the apps of `clipper_http_set_apps` and forwards
/// everything else to the frontend's own query server on `127.0.0.1:fallback_port`; of a body over
/// `max_body_bytes` it reads and forwards one byte more than the limit, no further, and one declared
/// over it is refused unread. A request head must arrive within `header_read_timeout_ms`, its body within
/// `body_read_timeout_ms`, a kept-alive connection's next request within `idle_timeout_ms`, else the
/// connection closes; over `max_connections` open, a new one is closed at once. With the PEM paths
/// `tls_cert` and `tls_key` (both non-empty) it speaks HTTPS; a file that cannot be loaded is
/// `CLIPPER_INVALID_ARGUMENT` with a message naming the flag and file. With `admin` 1 it starts the admin
/// port's front instead, which answers nothing itself and forwards every request to `fallback_port`.
/// `threads` ≥ 1 threads serve the port: the core thread, and `threads − 1` of their own, each accepting on
/// a listener of its own on the same port.
///
/// # Safety
/// `host` must point to `host_len` bytes, `tls_cert`/`tls_key` to their lengths (null when 0);
/// `out_port` writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn clipper_http_start(
    core: *const ClipperCore,
    host: *const u8,
    host_len: usize,
    port: u32,
    fallback_port: u32,
    max_body_bytes: u64,
    header_read_timeout_ms: u32,
    body_read_timeout_ms: u32,
    idle_timeout_ms: u32,
    max_connections: u32,
    tls_cert: *const u8,
    tls_cert_len: usize,
    tls_key: *const u8,
    tls_key_len: usize,
    admin: u32,
    threads: u32,
    out_port: *mut u32,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        let host = str_arg(host, host_len, "host")?;
        let tls = match (tls_cert_len, tls_key_len) {
            (0, 0) => None,
            (0, _) | (_, 0) => {
                return fail(
                    CLIPPER_INVALID_ARGUMENT,
                    "--tls-cert and --tls-key go together: give both or neither",
                )
            }
            _ => {
                let cert = str_arg(tls_cert, tls_cert_len, "tls_cert")?;
                let key = str_arg(tls_key, tls_key_len, "tls_key")?;
                Some(tls::load(cert, key).or_else(|e| fail(CLIPPER_INVALID_ARGUMENT, e))?)
            }
        };
        check(out_port, "out_port")?;
        let (Ok(port), Ok(fallback_port)) = (u16::try_from(port), u16::try_from(fallback_port))
        else {
            return fail(CLIPPER_INVALID_ARGUMENT, "Ports must be below 65536");
        };
        let limits = [
            header_read_timeout_ms,
            body_read_timeout_ms,
            idle_timeout_ms,
            max_connections,
            threads,
        ];
        if limits.contains(&0) {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                "Timeouts, the connection limit and the thread count must be positive",
            );
        }
        let millis = |ms: u32| Duration::from_millis(ms.into());
        let config = FrontConfig {
            host,
            port,
            fallback_port,
            limits: Limits {
                max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
                header_read_timeout: millis(header_read_timeout_ms),
                body_read_timeout: millis(body_read_timeout_ms),
                idle_timeout: millis(idle_timeout_ms),
                max_connections: max_connections as usize,
            },
            tls,
            threads: threads as usize,
        };
        let front = if admin == 1 { &core.admin } else { &core.front };
        let bound = front
            .start(&core.runtime, &config)
            .or_else(|e| fail(CLIPPER_BIND_FAILED, e))?;
        write_out(out_port, bound.into(), "out_port")
    })
}

/// Stops the native HTTP front: no new connections, requests already taken are answered (for up to
/// `drain_timeout_ms`), then every connection closes. Idempotent. Blocks meanwhile, and forwarded requests
/// need the frontend's own query server, so call it off that server's thread (Deno: `nonblocking`).
///
/// # Safety
/// `core` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn clipper_http_stop(core: *const ClipperCore, drain_timeout_ms: u32) -> i32 {
    guard(|| {
        let drain = Duration::from_millis(drain_timeout_ms.into());
        let core = core_ref(core)?;
        core.front.stop(drain);
        core.admin.stop(drain);
        Ok(())
    })
}

/// Replaces the apps the native front answers with the JSON array `json` of `{name, input_type (wire
/// id), default_output, latency_slo_micros, target: {model, label} | null, selection?: {mode: "one" |
/// "all", combine?: "vote" | "mean", min_confidence?, members: [{model, label}], weights: [..], users?:
/// {uid: [..]}} | null}` (with a selection, `target` is unused). A bad table (weights that are not one
/// finite, non-negative number per member, say) changes nothing. Users' weights set since the last table
/// are dropped: the table carries them all.
///
/// # Safety
/// `json` must point to `json_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn clipper_http_set_apps(
    core: *const ClipperCore,
    json: *const u8,
    json_len: usize,
) -> i32 {
    import_json(core, json, json_len, AppTable::replace)
}

/// Sets one user's weights in an app's selection from the JSON `{"app": "...", "uid": "...", "weights":
/// [..]}` (uid "0": the shared weights of users without their own), seen by the app's next query. Refused
/// with `CLIPPER_INVALID_ARGUMENT` for an app that is not published or has no selection, or weights that are
/// not one finite, non-negative number per member.
///
/// # Safety
/// `json` must point to `json_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn clipper_http_set_user_weights(
    core: *const ClipperCore,
    json: *const u8,
    json_len: usize,
) -> i32 {
    import_json(core, json, json_len, AppTable::set_user_weights)
}

/// The body of an export that hands the app table the JSON `json`: `apply`'s refusal is
/// `CLIPPER_INVALID_ARGUMENT` with its message.
///
/// # Safety
/// As for the exports: `core` live or null, `json` null or pointing to `json_len` bytes.
unsafe fn import_json(
    core: *const ClipperCore,
    json: *const u8,
    json_len: usize,
    apply: impl FnOnce(&AppTable, &[u8]) -> Result<(), String>,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        check(json, "json")?;
        let json = std::slice::from_raw_parts(json, json_len);
        apply(&core.front.apps, json).or_else(|e| fail(CLIPPER_INVALID_ARGUMENT, e))
    })
}

/// Writes the JSON of what the native front answered since the last call (`{apps, models}`, the
/// counters of src/metrics, histograms as `{buckets: [[bucket, count]], count, sum, max}`) into `buf` and
/// its length into `out_len`, and starts counting afresh. With `CLIPPER_BUFFER_TOO_SMALL`, `out_len` is
/// the length needed and nothing is taken.
///
/// # Safety
/// `buf` must hold `buf_len` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_http_take_metrics(
    core: *const ClipperCore,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut u64,
) -> i32 {
    export_json(core, buf, buf_len, out_len, "metrics", |core, buf_len| {
        let mut metrics = core.front.metrics.lock().unwrap_or_else(|p| p.into_inner());
        Ok(metrics.take_json(buf_len))
    })
}

/// The body of an export that writes JSON into a caller's buffer: `json(core, buf_len)` gives the JSON,
/// or (as the inner `Err`) the length it needs when that is over `buf_len`; the length goes to `out_len`.
///
/// # Safety
/// As for the exports: `core` live or null, `buf` holding `buf_len` writable bytes, `out_len` writable.
unsafe fn export_json(
    core: *const ClipperCore,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut u64,
    what: &str,
    json: impl FnOnce(&ClipperCore, usize) -> Result<Result<Vec<u8>, usize>, Failure>,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        check(buf, "buf")?;
        check(out_len, "out_len")?;
        match json(core, buf_len)? {
            Ok(json) => {
                std::slice::from_raw_parts_mut(buf, json.len()).copy_from_slice(&json);
                write_out(out_len, json.len() as u64, "out_len")
            }
            Err(needed) => {
                write_out(out_len, needed as u64, "out_len")?;
                fail(
                    CLIPPER_BUFFER_TOO_SMALL,
                    format!("The {what} needs {needed} bytes"),
                )
            }
        }
    })
}

/// Waits up to `timeout_ms` for answered queries, then writes as many completion records as fit into
/// `buf` (layout in `completion`). Writes the record count and bytes used; with `CLIPPER_BUFFER_TOO_SMALL`
/// `out_used` is the size the next record needs. Meant to be called with Deno's `nonblocking: true`.
///
/// # Safety
/// `buf` must hold `buf_len` writable bytes that nothing else touches during the call; outs writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_poll_completions(
    core: *const ClipperCore,
    buf: *mut u8,
    buf_len: usize,
    timeout_ms: u32,
    out_count: *mut u32,
    out_used: *mut u64,
) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        check(buf, "buf")?;
        check(out_count, "out_count")?;
        check(out_used, "out_used")?;
        let buf = std::slice::from_raw_parts_mut(buf, buf_len);
        match core
            .runtime
            .shared
            .completions
            .poll_into(buf, Duration::from_millis(timeout_ms.into()))
        {
            Ok((count, used)) => {
                write_out(out_count, count as u32, "out_count")?;
                write_out(out_used, used as u64, "out_used")
            }
            Err(PollError::TimedOut) => {
                write_out(out_count, 0, "out_count")?;
                write_out(out_used, 0, "out_used")
            }
            Err(PollError::Closed) => Err(refused(core)),
            Err(PollError::BufferTooSmall(needed)) => {
                write_out(out_used, needed as u64, "out_used")?;
                fail(
                    CLIPPER_BUFFER_TOO_SMALL,
                    format!("The next completion needs {needed} bytes"),
                )
            }
        }
    })
}

/// Writes a JSON snapshot of connected replicas and core counters into `buf` and its length into
/// `out_len` (with `CLIPPER_BUFFER_TOO_SMALL`, the length needed).
///
/// # Safety
/// `buf` must hold `buf_len` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_core_snapshot(
    core: *const ClipperCore,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut u64,
) -> i32 {
    export_json(core, buf, buf_len, out_len, "snapshot", |core, buf_len| {
        let json = serde_json::to_vec(&core.runtime.shared.snapshot())
            .or_else(|e| fail(CLIPPER_INVALID_ARGUMENT, e.to_string()))?;
        Ok(if json.len() <= buf_len {
            Ok(json)
        } else {
            Err(json.len())
        })
    })
}

/// Writes why the core thread failed (its panic's message and location) into `buf` and its length into
/// `out_len`: length 0 while it has not. From any thread, unlike `clipper_last_error`, so that a poller on
/// a worker thread that got `CLIPPER_CORE_FAILED` can say why.
///
/// # Safety
/// `buf` must hold `buf_len` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_core_failure(
    core: *const ClipperCore,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut u64,
) -> i32 {
    export_json(core, buf, buf_len, out_len, "failure", |core, buf_len| {
        let why = core.runtime.shared.failure().unwrap_or_default();
        Ok(if why.len() <= buf_len {
            Ok(why.into_bytes())
        } else {
            Err(why.len())
        })
    })
}

/// Makes the core thread panic at its next turn, to test how a failed core is contained and reported.
/// Refused (`CLIPPER_INVALID_ARGUMENT`) unless `CLIPPER_CORE_FAULT_INJECTION=1` was set when the core
/// started. An environment variable rather than a `fault-injection` cargo feature: integration tests
/// then drive the very library the server loads, with no second cdylib build, and a server started
/// without the variable has no trigger at all.
///
/// # Safety
/// `core` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn clipper_debug_panic(core: *const ClipperCore) -> i32 {
    guard(|| {
        let core = core_ref(core)?;
        if !core.fault_injection {
            return fail(
                CLIPPER_INVALID_ARGUMENT,
                format!("Fault injection is off: start the core with {FAULT_INJECTION_VAR}=1"),
            );
        }
        core.runtime.shared.inject_panic();
        Ok(())
    })
}

/// Copies the calling thread's last error message into `buf` (truncated to fit) and writes its full
/// length to `out_len`.
///
/// # Safety
/// `buf` must hold `buf_len` writable bytes; `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn clipper_last_error(
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut u64,
) -> i32 {
    if buf.is_null() || out_len.is_null() {
        return CLIPPER_NULL_POINTER;
    }
    LAST_ERROR.with(|e| {
        let message = e.borrow();
        let n = message.len().min(buf_len);
        std::slice::from_raw_parts_mut(buf, n).copy_from_slice(&message.as_bytes()[..n]);
        out_len.write(message.len() as u64);
    });
    CLIPPER_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lock;

    /// Submits with a hits buffer; returns the status and the hit records' (id, payload).
    fn submit(
        core: *const ClipperCore,
        model: u32,
        slo_micros: u64,
        first_id: u64,
        offsets: &[u32],
        data: &[u8],
    ) -> (i32, Vec<(u64, Vec<u8>)>) {
        let mut hits = [0u8; 256];
        let mut count = 0u32;
        let code = unsafe {
            clipper_submit(
                core,
                model,
                slo_micros,
                offsets.len() as u32 - 1,
                first_id,
                offsets.as_ptr(),
                data.as_ptr(),
                data.len(),
                hits.as_mut_ptr(),
                hits.len(),
                &mut count,
            )
        };
        let mut records = Vec::new();
        let mut at = 0;
        for _ in 0..count {
            let id = u64::from_le_bytes(hits[at..at + 8].try_into().unwrap());
            let len = u32::from_le_bytes(hits[at + 12..at + 16].try_into().unwrap()) as usize;
            let start = at + RECORD_HEADER_BYTES;
            records.push((id, hits[start..start + len].to_vec()));
            at = start + len;
        }
        (code, records)
    }

    fn open(endpoint: &[u8], max_outstanding: u32, cache_bytes: u64) -> *mut ClipperCore {
        let mut core: *mut ClipperCore = std::ptr::null_mut();
        let code = unsafe {
            clipper_core_new(
                endpoint.as_ptr(),
                endpoint.len(),
                1000,
                1000,
                max_outstanding,
                max_outstanding,
                cache_bytes,
                MAX_MESSAGE_BYTES as u64,
                &mut core,
            )
        };
        assert_eq!(code, CLIPPER_OK);
        core
    }

    fn configure(core: *const ClipperCore) -> u32 {
        let (name, version) = (b"m", b"1");
        let mut model = 0u32;
        let code = unsafe {
            clipper_model_configure(
                core,
                name.as_ptr(),
                1,
                version.as_ptr(),
                1,
                3,
                -1,
                0,
                0,
                1000,
                &mut model,
            )
        };
        assert_eq!(code, CLIPPER_OK);
        model
    }

    fn last_error() -> String {
        let mut buf = [0u8; 256];
        let mut len = 0u64;
        unsafe { clipper_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        String::from_utf8_lossy(&buf[..len as usize]).into_owned()
    }

    #[test]
    fn a_frame_limit_of_zero_or_over_a_gibibyte_is_refused() {
        let endpoint = b"tcp://127.0.0.1:0";
        for limit in [0, MAX_MESSAGE_BYTES as u64 + 1] {
            let mut core: *mut ClipperCore = std::ptr::null_mut();
            let code = unsafe {
                clipper_core_new(
                    endpoint.as_ptr(),
                    endpoint.len(),
                    1,
                    1,
                    1,
                    1,
                    0,
                    limit,
                    &mut core,
                )
            };
            assert_eq!(code, CLIPPER_INVALID_ARGUMENT, "{limit}");
            assert!(last_error().contains("frame limit"));
            assert!(core.is_null());
        }
    }

    #[test]
    fn null_pointers_are_refused_with_a_status_and_a_message() {
        let mut core: *mut ClipperCore = std::ptr::null_mut();
        let code = unsafe { clipper_core_new(std::ptr::null(), 0, 1, 1, 1, 1, 0, 1, &mut core) };
        assert_eq!(code, CLIPPER_NULL_POINTER);
        assert!(last_error().contains("endpoint"));
        assert_eq!(
            unsafe {
                clipper_submit(
                    std::ptr::null(),
                    0,
                    0,
                    0,
                    0,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null_mut(),
                )
            },
            CLIPPER_NULL_POINTER
        );
    }

    #[test]
    fn a_submit_with_bad_offsets_or_an_unknown_model_takes_nothing() {
        let core = open(b"tcp://127.0.0.1:0", 10, 0);
        let model = configure(core);
        let data = [0u8; 16];
        let (code, _) = submit(core, model, 1000, 1, &[0, 9, 8], &data);
        assert_eq!(code, CLIPPER_INVALID_ARGUMENT);
        let good = [0u32, 8, 16];
        let (code, _) = submit(core, 99, 1000, 1, &good, &data);
        assert_eq!(code, CLIPPER_UNKNOWN_MODEL);
        let (code, _) = submit(core, model, 1000, 1, &[0u32; 12], &[]);
        assert_eq!(code, CLIPPER_TOO_LARGE);
        // With no container connected the two queries come back at once as "no connected model".
        let (code, hits) = submit(core, model, 1_000_000, 1, &good, &data);
        assert!(hits.is_empty());
        assert_eq!(code, CLIPPER_OK);
        let mut buf = [0u8; 256];
        let (mut count, mut used, mut seen) = (0u32, 0u64, 0);
        let mut poll = |buf: &mut [u8], count: &mut u32| unsafe {
            clipper_poll_completions(core, buf.as_mut_ptr(), buf.len(), 1000, count, &mut used)
        };
        while seen < 2 {
            assert_eq!(poll(&mut buf, &mut count), CLIPPER_OK);
            assert!(count > 0, "completions arrive within the poll timeout");
            let status = u32::from_le_bytes(buf[8..12].try_into().unwrap());
            assert_eq!(status, 2, "status NoConnectedModel");
            seen += count;
        }
        assert_eq!(unsafe { clipper_core_close(core) }, CLIPPER_OK);
        let code = poll(&mut buf, &mut count);
        assert_eq!(code, CLIPPER_CLOSED);
        unsafe { clipper_core_free(core) };
    }

    fn failure(core: *const ClipperCore) -> (i32, String) {
        let mut buf = [0u8; 512];
        let mut len = 0u64;
        let code = unsafe { clipper_core_failure(core, buf.as_mut_ptr(), buf.len(), &mut len) };
        (
            code,
            String::from_utf8_lossy(&buf[..len as usize]).into_owned(),
        )
    }

    #[test]
    fn a_core_whose_thread_panicked_says_so_to_every_call_that_needs_it() {
        let core = open(b"tcp://127.0.0.1:0", 10, 0);
        let model = configure(core);
        assert_eq!(
            unsafe { clipper_debug_panic(core) },
            CLIPPER_INVALID_ARGUMENT
        );
        assert!(last_error().contains("CLIPPER_CORE_FAULT_INJECTION=1"));
        assert_eq!(failure(core), (CLIPPER_OK, String::new()));
        // As if started with the variable set; setting it here would race the other tests' threads.
        unsafe { (*core).fault_injection = true };
        assert_eq!(unsafe { clipper_debug_panic(core) }, CLIPPER_OK);
        let mut buf = [0u8; 256];
        let (mut count, mut used) = (0u32, 0u64);
        // The poll that waits when the core fails returns at once with the failure, and so does the next.
        for _ in 0..2 {
            let code = unsafe {
                clipper_poll_completions(
                    core,
                    buf.as_mut_ptr(),
                    buf.len(),
                    60_000,
                    &mut count,
                    &mut used,
                )
            };
            assert_eq!(code, CLIPPER_CORE_FAILED);
        }
        let (code, why) = failure(core);
        assert_eq!(code, CLIPPER_OK);
        assert!(why.starts_with("Fault injection"), "{why}");
        let (code, _) = submit(core, model, 1000, 1, &[0, 8], &[0; 8]);
        assert_eq!(code, CLIPPER_CORE_FAILED);
        assert!(last_error().starts_with("The serving core failed: Fault injection"));
        assert_eq!(
            unsafe { clipper_model_remove(core, model) },
            CLIPPER_CORE_FAILED
        );
        assert_eq!(unsafe { clipper_core_close(core) }, CLIPPER_OK);
        unsafe { clipper_core_free(core) };
    }

    #[test]
    fn user_weights_are_refused_with_a_status_and_a_message_that_says_why() {
        let core = open(b"tcp://127.0.0.1:0", 10, 0);
        let set = |f: unsafe extern "C" fn(*const ClipperCore, *const u8, usize) -> i32,
                   json: &str| unsafe { f(core, json.as_ptr(), json.len()) };
        let apps = r#"[
            {"name":"plain","input_type":3,"default_output":"-1","latency_slo_micros":5,"target":null},
            {"name":"s","input_type":3,"default_output":"-1","latency_slo_micros":5,"target":null,
             "selection":{"mode":"one","members":[{"model":0,"label":"m:1"}],"weights":[1]}}
        ]"#;
        assert_eq!(set(clipper_http_set_apps, apps), CLIPPER_OK);
        let ok = r#"{"app":"s","uid":"5","weights":[2]}"#;
        assert_eq!(set(clipper_http_set_user_weights, ok), CLIPPER_OK);
        for (json, message) in [
            (r#"{"app":"x","uid":"5","weights":[1]}"#, "no app \"x\""),
            (
                r#"{"app":"plain","uid":"5","weights":[1]}"#,
                "has no selection",
            ),
            (
                r#"{"app":"s","uid":"5","weights":[1,1]}"#,
                "2 weights for 1 members",
            ),
            ("{", "Invalid user weights"),
        ] {
            assert_eq!(
                set(clipper_http_set_user_weights, json),
                CLIPPER_INVALID_ARGUMENT
            );
            assert!(last_error().contains(message), "{}", last_error());
        }
        let code = unsafe { clipper_http_set_user_weights(core, std::ptr::null(), 0) };
        assert_eq!(code, CLIPPER_NULL_POINTER);
        unsafe { clipper_core_free(core) };
    }

    #[test]
    fn cached_inputs_are_answered_inside_submit_and_only_misses_are_queued() {
        let core = open(b"tcp://127.0.0.1:0", 10, 1 << 20);
        let model = configure(core);
        let shared = unsafe { &(*core).runtime.shared };
        lock(&shared.cache).insert(model, &[1; 8], b"cached");
        let data = [[1u8; 8], [2u8; 8]].concat();
        let (code, hits) = submit(core, model, 1_000_000, 10, &[0, 8, 16], &data);
        assert_eq!(code, CLIPPER_OK);
        assert_eq!(hits, vec![(10, b"cached".to_vec())]);
        // The miss went to the engine, which answers it "no connected model" through the poll.
        let mut buf = [0u8; 256];
        let (mut count, mut used) = (0u32, 0u64);
        let code = unsafe {
            clipper_poll_completions(
                core,
                buf.as_mut_ptr(),
                buf.len(),
                5000,
                &mut count,
                &mut used,
            )
        };
        assert_eq!((code, count), (CLIPPER_OK, 1));
        assert_eq!(u64::from_le_bytes(buf[0..8].try_into().unwrap()), 11);
        let same = [[1u8; 8]; 11].concat();
        let offsets: Vec<u32> = (0..=11).map(|i| i * 8).collect();
        let (code, hits) = submit(core, model, 1_000_000, 13, &offsets, &same);
        // 7 records of 34 bytes fit the 256-byte buffer; the other 4 are queued like misses.
        assert_eq!((code, hits.len()), (CLIPPER_OK, 7));
        unsafe { clipper_core_free(core) };
    }
}
