//! Draining the query port's connections when the front stops: a request in progress is answered and its
//! connection then closes, an idle keep-alive connection closes at once, and a connection accepted but
//! whose first request has not been read yet waits for it (its client may have sent it already) instead of
//! being closed unanswered, as hyper's own graceful shutdown would (it counts such a connection as idle).
//!
//! Owns only the drain signal and each connection's "has it begun a request" mark; the caller bounds the
//! whole drain in time. Must not touch requests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::{watch, Notify};

/// Whether a connection has begun a request: its service marks it.
#[derive(Default)]
pub struct Begun {
    any: AtomicBool,
    first: Notify,
}

impl Begun {
    pub fn mark(&self) {
        if !self.any.swap(true, Ordering::AcqRel) {
            // Stores a permit when the connection is not waiting yet.
            self.first.notify_one();
        }
    }
}

/// The drain signal, with one subscriber per live connection.
pub struct Drain {
    stop: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain {
            stop: watch::Sender::new(false),
        }
    }
}

impl Drain {
    /// A ticket for one connection, taken as it is accepted so that draining waits for it (through a TLS
    /// handshake too).
    pub fn ticket(&self) -> Ticket {
        Ticket(self.stop.subscribe())
    }

    /// Begins draining and waits until every watched connection has ended; the caller bounds the wait.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        self.stop.closed().await;
    }
}

/// One accepted connection's place in the drain.
pub struct Ticket(watch::Receiver<bool>);

impl Ticket {
    /// Serves `connection` until it ends, shutting it down gracefully once draining begins (and, for a
    /// connection that has not begun a request, once it begins its first one).
    pub async fn serve<C: GracefulConnection>(mut self, connection: C, begun: Arc<Begun>) {
        let mut connection = std::pin::pin!(connection);
        // A client that hangs up mid-request is its own problem; nothing to report.
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = self.0.wait_for(|stop| *stop) => {}
        }
        if !begun.any.load(Ordering::Acquire) {
            tokio::select! {
                _ = connection.as_mut() => return,
                () = begun.first.notified() => {}
            }
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Serves one accepted connection under `drain`, answering every request "ok".
    async fn serve_one(drain: &Drain, listener: &TcpListener) {
        let (stream, _) = listener.accept().await.unwrap();
        let begun = Arc::new(Begun::default());
        let marks = begun.clone();
        let service = hyper::service::service_fn(move |_: Request<hyper::body::Incoming>| {
            marks.mark();
            async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok")))) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        tokio::spawn(drain.ticket().serve(connection, begun));
    }

    /// A client connected to a connection served under a fresh drain.
    async fn served_client() -> (Drain, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let drain = Drain::default();
        serve_one(&drain, &listener).await;
        (drain, client)
    }

    #[tokio::test]
    async fn a_connection_accepted_before_the_drain_gets_its_first_request_answered() {
        let (drain, mut client) = served_client().await;
        // The drain begins before the client has sent anything.
        let drained = tokio::spawn(drain.shutdown());
        tokio::task::yield_now().await;
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), drained)
            .await
            .expect("the drain ends once the connection closes")
            .unwrap();
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_closes_as_the_drain_begins() {
        let (drain, mut client) = served_client().await;
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = client.read(&mut buf).await.unwrap();
        assert!(buf[..n].ends_with(b"ok"));
        tokio::time::timeout(Duration::from_secs(10), drain.shutdown())
            .await
            .expect("an idle connection does not hold the drain up");
        assert_eq!(client.read(&mut buf).await.unwrap(), 0, "closed");
    }
}
