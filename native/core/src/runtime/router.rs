//! The RPC socket: the ROUTER end of ZMTP 3 over TCP, on the core thread's tokio runtime.
//!
//! Owns the listener, one task per container connection, and the routing identities. It replaces libzmq
//! on our side of the wire (containers keep theirs) so that a batch goes from the engine to the kernel,
//! and an answer from the kernel to the engine, without crossing a thread. Behaves like a libzmq ROUTER
//! with `ROUTER_MANDATORY` and no high-water mark: a peer without a connection is reported unreachable,
//! a peer that sets no identity gets a generated one, and a second connection claiming an identity in use
//! is refused. Must not interpret messages: it hands whole ones to the engine through `Shared`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::Shared;
use crate::registry::Identity;
use crate::rpc::zmtp::{self, Deframer, Received, ZmtpError, GREETING_BYTES, READ_CHUNK};
use crate::rpc::Frame;

/// A handshake slower than this (a port scanner, a stuck peer) is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the connections hand to the engine.
pub enum Inbound {
    Message(Identity, Vec<Bytes>),
    /// The connection closed: whatever the engine sent it is lost.
    Gone(Identity),
}

struct Peer {
    write: OwnedWriteHalf,
    /// Encoded bytes the kernel has not taken yet, in order.
    pending: Mutex<Vec<u8>>,
    /// Tells the connection's task to wait until the socket takes more.
    backlog: Notify,
}

impl Peer {
    fn pending(&self) -> MutexGuard<'_, Vec<u8>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the kernel takes now; what is left waits for `writable`. False when the connection
    /// is broken (its task sees that too and reports it gone).
    fn flush(&self) -> bool {
        let mut pending = self.pending();
        let mut written = 0;
        while written < pending.len() {
            match self.write.try_write(&pending[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.backlog.notify_one();
                    break;
                }
                Err(_) => return false,
            }
        }
        pending.drain(..written);
        true
    }
}

#[derive(Default)]
struct Peers {
    by_identity: HashMap<Identity, Arc<Peer>>,
    /// libzmq's scheme for peers that set no identity: a zero byte, then a counter.
    next_generated: u32,
}

/// How often a refused duplicate identity is reported at most: a container that keeps reconnecting with
/// an identity in use (libzmq retries every 100 ms) must not flood the log.
const REFUSAL_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one event through per interval and counts the ones it holds back.
#[derive(Default)]
struct Throttle {
    last_report: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// `Some(events held back since the last report)` when the event at `now` is to be reported.
    fn admit(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        if self
            .last_report
            .is_some_and(|last| now.duration_since(last) < interval)
        {
            self.held_back += 1;
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

pub struct Router {
    peers: Mutex<Peers>,
    inbound: Mutex<Vec<Inbound>>,
    refusals: Mutex<Throttle>,
    /// A peer announcing a larger frame is disconnected (`--max-frame-bytes`).
    max_frame_bytes: usize,
}

impl Router {
    pub fn new(max_frame_bytes: usize) -> Router {
        Router {
            peers: Mutex::default(),
            inbound: Mutex::default(),
            refusals: Mutex::default(),
            max_frame_bytes,
        }
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Messages and departures since the last call, in arrival order.
    pub fn take_inbound(&self) -> Vec<Inbound> {
        std::mem::take(&mut *self.inbound.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Queues `frames` to `identity` and writes what the socket takes now; false when no connection has
    /// that identity (it closed), like a mandatory ROUTER's EHOSTUNREACH.
    pub fn send(&self, identity: &[u8], frames: &[Frame]) -> bool {
        let Some(peer) = self.peers().by_identity.get(identity).cloned() else {
            return false;
        };
        zmtp::put_message(&mut peer.pending(), frames);
        peer.flush()
    }

    /// Accepts container connections until the runtime stops.
    pub async fn accept(self: Arc<Self>, listener: TcpListener, shared: Arc<Shared>) {
        loop {
            match listener.accept().await {
                Ok((stream, address)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(self.clone().connection(stream, address, shared.clone()));
                }
                Err(err) => {
                    // Out of descriptors, say: keep serving the connections there are.
                    eprintln!("clipper core: accepting a container connection failed: {err}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Counts and explains a protocol error that closes the connection from `address`.
    fn report(&self, address: SocketAddr, err: &ZmtpError, shared: &Shared) {
        if let ZmtpError::FrameTooLarge { .. } = err {
            shared.oversized_frames.fetch_add(1, Ordering::Relaxed);
        }
        eprintln!("clipper core: closed the container connection from {address}: {err}");
    }

    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        address: SocketAddr,
        shared: Arc<Shared>,
    ) {
        let handshake = handshake(stream, self.max_frame_bytes);
        let (stream, claimed, buffered) =
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(done)) => done,
                Ok(Err(HandshakeFailed::Protocol(err))) => {
                    self.report(address, &err, &shared);
                    return;
                }
                // Closed or timed out mid-handshake: nothing was registered, nothing to report.
                Ok(Err(HandshakeFailed::Io)) | Err(_) => return,
            };
        let (read, write) = stream.into_split();
        let Some((identity, peer)) = self.register(&claimed, write) else {
            let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(held_back) = refusals.admit(Instant::now(), REFUSAL_REPORT_INTERVAL) {
                let claimed = String::from_utf8_lossy(&claimed);
                let since = match held_back {
                    0 => String::new(),
                    n => format!(" ({n} more refused since the last report)"),
                };
                eprintln!("clipper core: refused a container connection claiming identity \"{claimed}\", which is in use{since}");
            }
            return;
        };
        let deframer = Deframer::new(self.max_frame_bytes, buffered);
        if let Err(err) = self.serve(&identity, &peer, read, deframer, &shared).await {
            self.report(address, &err, &shared);
        }
        self.peers().by_identity.remove(&identity);
        self.push(&mut vec![Inbound::Gone(identity)], &shared);
    }

    /// Registers a new peer under `claimed` or, when it claimed none, a generated identity; `None` when
    /// `claimed` is in use.
    fn register(&self, claimed: &[u8], write: OwnedWriteHalf) -> Option<(Identity, Arc<Peer>)> {
        let mut peers = self.peers();
        // Identities starting with a zero byte are reserved for generated ones, as in libzmq.
        let identity = if claimed.first().is_none_or(|&b| b == 0) {
            peers.next_generated = peers.next_generated.wrapping_add(1);
            let mut generated = vec![0];
            generated.extend_from_slice(&peers.next_generated.to_be_bytes());
            generated
        } else {
            claimed.to_vec()
        };
        if peers.by_identity.contains_key(&identity) {
            return None;
        }
        let peer = Arc::new(Peer {
            write,
            pending: Mutex::new(Vec::new()),
            backlog: Notify::new(),
        });
        peers.by_identity.insert(identity.clone(), peer.clone());
        Some((identity, peer))
    }

    /// Hands `arrived` to the engine (leaving it empty) and wakes it.
    fn push(&self, arrived: &mut Vec<Inbound>, shared: &Shared) {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(arrived);
        shared.nudge();
    }

    /// Reads whole messages until the connection closes or breaks the protocol, and waits for the socket
    /// whenever the engine left bytes it did not take.
    async fn serve(
        &self,
        identity: &Identity,
        peer: &Peer,
        mut read: OwnedReadHalf,
        mut deframer: Deframer,
        shared: &Shared,
    ) -> Result<(), ZmtpError> {
        loop {
            let mut arrived = Vec::new();
            while let Some(received) = deframer.take()? {
                match received {
                    // ZMTP 3.1 heartbeats, if the peer turned them on; other commands mean nothing here.
                    Received::Command(command) => {
                        if let Some((b"PING", ping)) = zmtp::command_parts(&command) {
                            peer.pending().extend_from_slice(&zmtp::pong_for(ping));
                            if !peer.flush() {
                                return Ok(());
                            }
                        }
                    }
                    Received::Message(frames) => {
                        arrived.push(Inbound::Message(identity.clone(), frames));
                    }
                }
            }
            if !arrived.is_empty() {
                self.push(&mut arrived, shared);
            }
            let backlog = !peer.pending().is_empty();
            tokio::select! {
                read = read.read_buf(deframer.buffer()) => match read {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    // A reset from a container that exited is how connections usually end.
                    Err(_) => return Ok(()),
                },
                ready = peer.write.writable(), if backlog => {
                    if ready.is_err() || !peer.flush() {
                        return Ok(());
                    }
                }
                // The engine left a backlog: look again with `backlog` set.
                () = peer.backlog.notified() => {}
            }
        }
    }
}

enum HandshakeFailed {
    Protocol(ZmtpError),
    Io,
}

impl From<ZmtpError> for HandshakeFailed {
    fn from(err: ZmtpError) -> Self {
        HandshakeFailed::Protocol(err)
    }
}

impl From<std::io::Error> for HandshakeFailed {
    fn from(_: std::io::Error) -> Self {
        HandshakeFailed::Io
    }
}

/// Greets, reads the peer's greeting and READY, and answers READY. Returns the stream, the identity the
/// peer claimed (maybe empty) and whatever it sent after READY.
async fn handshake(
    mut stream: TcpStream,
    max_frame_bytes: usize,
) -> Result<(TcpStream, Identity, BytesMut), HandshakeFailed> {
    // Both greetings and READYs may cross: a NULL handshake has no round trip to wait for.
    let mut hello = zmtp::greeting().to_vec();
    hello.extend_from_slice(&zmtp::ready());
    stream.write_all(&hello).await?;
    let mut greeting = [0u8; GREETING_BYTES];
    stream.read_exact(&mut greeting).await?;
    zmtp::check_greeting(&greeting)?;
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if let Some(head) = zmtp::next_frame(&buf, max_frame_bytes)? {
            if !head.command {
                return Err(ZmtpError::Unexpected.into());
            }
            let frame = buf.split_to(head.header_len + head.body_len);
            let identity = zmtp::parse_ready(&frame[head.header_len..])?;
            return Ok((stream, identity, buf));
        }
        buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(HandshakeFailed::Io);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::engine::EngineConfig;
    use crate::rpc::RPC_VERSION;
    use crate::runtime::submit::Admission;
    use crate::runtime::testing::{await_replicas, Dealer, MSG_HEARTBEAT};
    use crate::runtime::Runtime;

    #[test]
    fn a_throttle_reports_the_first_event_then_one_per_interval_with_the_count_held_back() {
        let (mut throttle, start, interval) = (
            super::Throttle::default(),
            Instant::now(),
            Duration::from_secs(10),
        );
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(throttle.admit(at(0), interval), Some(0));
        assert_eq!(throttle.admit(at(100), interval), None);
        assert_eq!(throttle.admit(at(9_999), interval), None);
        assert_eq!(throttle.admit(at(10_000), interval), Some(2));
        assert_eq!(throttle.admit(at(25_000), interval), Some(0));
    }

    fn runtime() -> Runtime {
        Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            Admission::total(100),
            crate::rpc::zmtp::MAX_MESSAGE_BYTES,
        )
        .unwrap()
    }

    #[test]
    fn a_dealer_is_greeted_and_asked_for_its_metadata() {
        let runtime = runtime();
        let mut dealer = Dealer::connect(&runtime, None);
        dealer.heartbeat().unwrap();
        let answer = dealer.recv();
        let expected = vec![
            Vec::new(),
            RPC_VERSION.to_le_bytes().to_vec(),
            MSG_HEARTBEAT.to_le_bytes().to_vec(),
            1u32.to_le_bytes().to_vec(),
        ];
        assert_eq!(answer, expected);
    }

    #[test]
    fn a_container_whose_connection_closes_is_dropped_at_once() {
        let runtime = runtime();
        let mut dealer = Dealer::connect(&runtime, None);
        dealer.introduce("noop").unwrap();
        await_replicas(&runtime, &["noop"]);
        drop(dealer);
        await_replicas(&runtime, &[]);
    }

    #[test]
    fn a_second_connection_claiming_an_identity_in_use_is_refused() {
        let runtime = runtime();
        let mut first = Dealer::connect(&runtime, Some(b"replica-a"));
        first.introduce("first").unwrap();
        await_replicas(&runtime, &["first"]);
        // Refused at its handshake, so its introduction may not even be written: either way it must not
        // register.
        let mut second = Dealer::connect(&runtime, Some(b"replica-a"));
        let _ = second.introduce("second");
        // The refused connection never reaches the engine; a third, distinct peer shows the second was
        // read past, not merely slow.
        let mut third = Dealer::connect(&runtime, Some(b"replica-c"));
        third.introduce("third").unwrap();
        await_replicas(&runtime, &["first", "third"]);
    }

    #[test]
    fn a_container_announcing_a_frame_over_the_limit_is_disconnected_and_counted_while_others_stay()
    {
        let runtime = Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            Admission::total(100),
            1000,
        )
        .unwrap();
        let mut big = Dealer::connect(&runtime, Some(b"big"));
        big.introduce("big").unwrap();
        let mut small = Dealer::connect(&runtime, Some(b"small"));
        small.introduce("small").unwrap();
        await_replicas(&runtime, &["big", "small"]);
        // Refused from its header: the router need not wait for the body to arrive.
        big.send(&[b"", &[0; 1001]]).unwrap();
        await_replicas(&runtime, &["small"]);
        let counted = runtime.shared.snapshot().unwrap().counters.oversized_frames;
        assert_eq!(counted, 1);
        small.heartbeat().unwrap();
        assert_eq!(small.recv()[2], MSG_HEARTBEAT.to_le_bytes());
    }
}
