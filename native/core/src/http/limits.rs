//! What one client of the query port may hold, and for how long: the body size, the time to send a
//! request's head and its body, the time a kept-alive connection may wait for its next request, and the
//! number of open connections (`Limits`).
//!
//! Owns the per-connection clock (`Watch`) and the stream wrapper that enforces it (`Watched`), which
//! fails a read once the current phase is over its time, so the connection closes. It wraps any tokio
//! stream, so a TLS stream can sit inside or outside it. Must not know about requests beyond the phase
//! the server tells it (`Watch::busy`, `Watch::idle`); the body's own timeout is the server's.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A body is read up to one byte over this; a declared `content-length` over it is refused unread.
    pub max_body_bytes: usize,
    /// From a connection's opening, or the first byte of its next request, to the request head's end.
    pub header_read_timeout: Duration,
    /// From a request head's end to its body's end.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may wait for the first byte of its next request.
    pub idle_timeout: Duration,
    /// Connections open at once; one more is accepted and closed at once.
    pub max_connections: usize,
}

#[cfg(test)]
impl Limits {
    /// Limits no test meets but the body size.
    pub fn generous(max_body_bytes: usize) -> Limits {
        let long = Duration::from_secs(60);
        Limits {
            max_body_bytes,
            header_read_timeout: long,
            body_read_timeout: long,
            idle_timeout: long,
            max_connections: 1024,
        }
    }
}

/// Where a connection is in its life, each phase with its own time limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for or reading a request head: `header_read_timeout`.
    Head,
    /// A request is taken: the server times its body and the engine its deadline.
    Busy,
    /// Answered, waiting for the next request: `idle_timeout`.
    Idle,
}

/// A connection's phase and when it began; the phase whose time ran out, once one did.
pub struct Watch {
    state: Mutex<(Phase, Instant)>,
    expired: Mutex<Option<Phase>>,
    /// The reader waiting on the last phase's deadline: a new phase brings a new deadline, and hyper does
    /// not read again on its own once a read is pending.
    reader: Mutex<Option<Waker>>,
}

impl Watch {
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            state: Mutex::new((Phase::Head, Instant::now())),
            expired: Mutex::new(None),
            reader: Mutex::new(None),
        })
    }

    fn set(&self, phase: Phase) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = (phase, Instant::now());
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// A request head was read whole.
    pub fn busy(&self) {
        self.set(Phase::Busy);
    }

    /// The request was answered.
    pub fn idle(&self) {
        self.set(Phase::Idle);
    }

    /// The phase whose time ran out and closed the connection, if one did.
    pub fn expired(&self) -> Option<Phase> {
        *self.expired.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes came in (true) or went out (false).
    fn on_traffic(&self, incoming: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 == Phase::Idle {
            // The next request's first byte starts its head's clock; an answer still being written keeps
            // the connection from counting as idle.
            *state = (
                if incoming { Phase::Head } else { Phase::Idle },
                Instant::now(),
            );
        }
    }

    /// The current phase and when its time runs out, if it has a limit.
    fn deadline(&self, limits: &Limits) -> Option<(Phase, Instant)> {
        let (phase, since) = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        match phase {
            Phase::Head => Some((phase, since + limits.header_read_timeout)),
            Phase::Idle => Some((phase, since + limits.idle_timeout)),
            Phase::Busy => None,
        }
    }
}

/// A stream whose reads fail with `TimedOut` once the connection's phase is over its time.
pub struct Watched<S> {
    stream: S,
    watch: Arc<Watch>,
    limits: Limits,
    sleep: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    pub fn new(stream: S, watch: Arc<Watch>, limits: Limits) -> Watched<S> {
        let first = watch
            .deadline(&limits)
            .map_or_else(Instant::now, |(_, at)| at);
        Watched {
            stream,
            watch,
            limits,
            sleep: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    /// Pending until the current phase's time runs out, then the error that closes the connection.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut reader = self.watch.reader.lock().unwrap_or_else(|p| p.into_inner());
        if !reader.as_ref().is_some_and(|r| r.will_wake(cx.waker())) {
            *reader = Some(cx.waker().clone());
        }
        drop(reader);
        let Some((phase, deadline)) = self.watch.deadline(&self.limits) else {
            return Poll::Pending;
        };
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        ready!(self.sleep.as_mut().poll(cx));
        *self.watch.expired.lock().unwrap_or_else(|p| p.into_inner()) = Some(phase);
        let what = match phase {
            Phase::Head => "request head",
            _ => "next request",
        };
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("The client took too long to send its {what}"),
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.watch.on_traffic(true);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => this.poll_deadline(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write(cx, buf));
        if matches!(written, Ok(n) if n > 0) {
            this.watch.on_traffic(false);
        }
        Poll::Ready(written)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs));
        if matches!(written, Ok(n) if n > 0) {
            this.watch.on_traffic(false);
        }
        Poll::Ready(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(head_millis: u64, idle_millis: u64) -> Limits {
        Limits {
            max_body_bytes: 16,
            header_read_timeout: Duration::from_millis(head_millis),
            body_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_millis(idle_millis),
            max_connections: 1,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn a_head_trickled_past_its_time_fails_the_read_though_bytes_keep_coming() {
        runtime().block_on(async {
            let (ours, mut theirs) = tokio::io::duplex(64);
            let watch = Watch::new();
            let mut watched = Watched::new(ours, watch.clone(), limits(1_000, 60_000));
            let mut buf = [0u8; 8];
            for _ in 0..9 {
                theirs.write_all(b"G").await.unwrap();
                assert_eq!(watched.read(&mut buf).await.unwrap(), 1);
                tokio::time::advance(Duration::from_millis(100)).await;
            }
            let err = watched.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(watch.expired(), Some(Phase::Head));
        });
    }

    #[test]
    fn a_busy_connection_has_no_limit_and_an_idle_one_the_idle_timeout() {
        runtime().block_on(async {
            let (ours, mut theirs) = tokio::io::duplex(64);
            let watch = Watch::new();
            let mut watched = Watched::new(ours, watch.clone(), limits(1_000, 5_000));
            watch.busy();
            let mut buf = [0u8; 8];
            let read = tokio::time::timeout(Duration::from_secs(30), watched.read(&mut buf));
            assert!(read.await.is_err(), "a busy connection's read waits on");
            watch.idle();
            let started = Instant::now();
            let err = watched.read(&mut [0u8; 8]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(started.elapsed(), Duration::from_secs(5));
            assert_eq!(watch.expired(), Some(Phase::Idle));
            drop(theirs.shutdown().await);
        });
    }

    #[test]
    fn a_read_pending_while_busy_is_held_to_the_idle_timeout_once_the_request_is_answered() {
        runtime().block_on(async {
            let (ours, _theirs) = tokio::io::duplex(64);
            let watch = Watch::new();
            let mut watched = Watched::new(ours, watch.clone(), limits(1_000, 5_000));
            watch.busy();
            let mut buf = [0u8; 8];
            let started = Instant::now();
            let answer = async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                watch.idle();
            };
            let (read, ()) = tokio::join!(watched.read(&mut buf), answer);
            assert_eq!(read.unwrap_err().kind(), io::ErrorKind::TimedOut);
            assert_eq!(started.elapsed(), Duration::from_secs(7));
            assert_eq!(watch.expired(), Some(Phase::Idle));
        });
    }

    #[test]
    fn the_next_requests_first_byte_starts_the_head_clock() {
        runtime().block_on(async {
            let (ours, mut theirs) = tokio::io::duplex(64);
            let watch = Watch::new();
            let mut watched = Watched::new(ours, watch.clone(), limits(1_000, 5_000));
            watch.idle();
            tokio::time::advance(Duration::from_millis(4_000)).await;
            theirs.write_all(b"P").await.unwrap();
            assert_eq!(watched.read(&mut [0u8; 8]).await.unwrap(), 1);
            let started = Instant::now();
            let err = watched.read(&mut [0u8; 8]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert_eq!(started.elapsed(), Duration::from_millis(1_000));
            assert_eq!(watch.expired(), Some(Phase::Head));
        });
    }
}
