//! Failure of the core thread: a panic in an engine turn, contained rather than left to hang every
//! waiting query (module doc of `runtime`).
//!
//! Owns the panic hook that records where the core thread panicked, the containment of a turn, and what a
//! failed core does: log, answer every waiting query, refuse every later call. Must not try to repair or
//! restart the engine: its state is whatever the panic left.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Once;

use super::Shared;
use crate::completion::{Completion, Status};

/// The core thread's name, which the panic hook recognises it by.
pub const CORE_THREAD: &str = "clipper-core";

/// What a query waiting on the query front is answered with when the core fails.
const FAILED_ANSWER: &[u8] = b"The serving core failed; the server is restarting";

thread_local! {
    /// The last panic on this thread, with its location: only a panic hook sees the location.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a hook that records a core thread's panic (message and location) before
/// handing it to the hook that was there, which logs it to stderr. Other threads' panics pass through.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(CORE_THREAD) {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let what = format!("{}{location}", panic_message(info.payload()));
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(what));
            }
            previous(info);
        }));
    });
}

/// A panic payload's message: the `&str` or `String` that `panic!` carries, else a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `body`, turning a panic into `Err` with its message and (recorded by the hook) location.
pub fn contain<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| panic_message(payload.as_ref()))
    })
}

impl Shared {
    /// Why the core thread failed, once it has.
    pub fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes the engine's next turn panic, to test containment; `clipper_debug_panic` says who may.
    pub fn inject_panic(&self) {
        self.panic_requested.store(true, Ordering::Release);
        self.nudge();
    }

    /// Records the failure and answers everything waiting: the front's queries get `FAILED_ANSWER`, the
    /// completion queue closes (its poller then asks `failure`). Called on the core thread once the engine
    /// is gone, so nothing can be answered twice.
    pub(super) fn fail(&self, why: String) {
        eprintln!(
            "clipper core: the core thread panicked ({why}); every waiting query is answered as failed \
             and the serving core takes no more work until the server restarts"
        );
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.failed.store(true, Ordering::Release);
        // A submitter that read `failed` as false may still push; nothing will read it.
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        for (id, sender) in self.lock_waiters().drain() {
            let answer = Completion::without_model(id, Status::Dropped, FAILED_ANSWER.to_vec());
            // A receiver gone (its client hung up) leaves nothing to do.
            drop(sender.send(answer));
        }
        self.outstanding.store(0, Ordering::Release);
        self.completions.close();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::sync::oneshot;

    use super::*;
    use crate::completion::PollError;
    use crate::engine::EngineConfig;
    use crate::runtime::submit::{Inputs, Refused, Reply};
    use crate::runtime::testing::{await_replicas, configure, Dealer};
    use crate::runtime::Runtime;

    const INPUTS: Inputs<'static> = Inputs {
        offsets: &[0, 8, 16],
        data: &[0; 16],
    };

    /// Waits (boundedly) until the core reports a failure.
    fn await_failure(runtime: &Runtime) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(why) = runtime.shared.failure() {
                return why;
            }
            assert!(Instant::now() < until, "the core reports its failure");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_panic_on_the_core_thread_answers_every_waiting_query_and_refuses_the_next() {
        let runtime = Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            crate::runtime::submit::Admission::total(100),
            crate::rpc::zmtp::MAX_MESSAGE_BYTES,
        )
        .unwrap();
        let model = configure(&runtime, "m");
        // A replica that takes batches and never answers them, so the queries wait.
        let mut dealer = Dealer::connect(&runtime, None);
        dealer.introduce("m").unwrap();
        await_replicas(&runtime, &["m"]);
        let shared = &runtime.shared;
        let slow = 60_000_000;
        shared
            .submit(model, slow, 1, INPUTS, |_, _| false, Reply::Poll)
            .unwrap();
        let mut receivers: Vec<(usize, oneshot::Receiver<Completion>)> = Vec::new();
        let reply = Reply::Channels(&mut receivers);
        shared
            .submit(model, slow, 3, INPUTS, |_, _| false, reply)
            .unwrap();
        dealer.recv();

        shared.inject_panic();
        let why = await_failure(&runtime);
        assert!(why.contains("Fault injection"), "{why}");
        assert!(why.contains("runtime/mod.rs:"), "{why}");
        for (_, receiver) in receivers {
            let answer = receiver.blocking_recv().unwrap();
            assert_eq!(answer.status, Status::Dropped);
            assert_eq!(answer.payload, FAILED_ANSWER);
        }
        // The poller learns at once that nothing more will come.
        let mut buf = [0u8; 256];
        let polled = shared
            .completions
            .poll_into(&mut buf, Duration::from_secs(60));
        assert_eq!(polled, Err(PollError::Closed));
        let refused = shared.submit(model, slow, 5, INPUTS, |_, _| false, Reply::Poll);
        assert_eq!(refused, Err(Refused::Closed));
        assert_eq!(shared.outstanding.load(Ordering::Acquire), 0);
        runtime.stop();
    }

    #[test]
    fn a_contained_panic_names_its_message_and_location() {
        let outcome = std::thread::Builder::new()
            .name(CORE_THREAD.into())
            .spawn(|| {
                install_panic_hook();
                contain(|| -> u32 { panic!("broken invariant {}", 7) })
            })
            .unwrap()
            .join()
            .unwrap();
        let why = outcome.unwrap_err();
        assert!(why.starts_with("broken invariant 7 at "), "{why}");
        assert!(why.contains("failure.rs:"), "{why}");
        assert_eq!(contain(|| 5), Ok(5));
    }
}
