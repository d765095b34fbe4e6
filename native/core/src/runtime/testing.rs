//! Test support: a model container played over a plain TCP stream (a ZMTP 3.0 DEALER speaking Clipper RPC
//! v3), and the container messages tests build byte for byte. The original containers' libzmq DEALER meets
//! the router end to end in tests/predict_test.ts and faults_test.ts; this one lets the core's own tests
//! run a request through every layer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::batching::Batching;
use crate::engine::Command;
use crate::rpc::{zmtp, Frame, InputType, RPC_VERSION};
use crate::runtime::Runtime;

const MSG_NEW_CONTAINER: u32 = 0;
const MSG_CONTAINER_CONTENT: u32 = 1;
pub const MSG_HEARTBEAT: u32 = 2;

/// A container's answer to batch `msg_id`: one output per query.
pub fn response(msg_id: u32, outputs: &[&str]) -> Vec<Vec<u8>> {
    let mut header = (outputs.len() as u64).to_le_bytes().to_vec();
    for o in outputs {
        header.extend_from_slice(&(o.len() as u64).to_le_bytes());
    }
    let mut frames = vec![
        vec![],
        MSG_CONTAINER_CONTENT.to_le_bytes().to_vec(),
        msg_id.to_le_bytes().to_vec(),
        (header.len() as u64).to_le_bytes().to_vec(),
        header,
    ];
    frames.extend(outputs.iter().map(|o| o.as_bytes().to_vec()));
    frames
}

pub struct Dealer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Dealer {
    pub fn connect(runtime: &Runtime, identity: Option<&[u8]>) -> Dealer {
        let mut stream = TcpStream::connect(runtime.rpc_address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(&zmtp::greeting()).unwrap();
        let mut properties: Vec<(&[u8], &[u8])> = vec![(b"Socket-Type", b"DEALER")];
        properties.extend(identity.map(|id| (&b"Identity"[..], id)));
        stream.write_all(&zmtp::ready_command(&properties)).unwrap();
        let mut peer = [0; zmtp::GREETING_BYTES];
        stream.read_exact(&mut peer).unwrap();
        zmtp::check_greeting(&peer).unwrap();
        Dealer {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, frames: &[&[u8]]) -> std::io::Result<()> {
        let frames: Vec<Frame> = frames.iter().map(|f| Frame::Owned(f.to_vec())).collect();
        let mut out = Vec::new();
        zmtp::put_message(&mut out, &frames);
        self.stream.write_all(&out)
    }

    /// The next message's frames, past the router's READY.
    pub fn recv(&mut self) -> Vec<Vec<u8>> {
        self.next().expect("a message within the read timeout")
    }

    /// The next message's frames; `None` once the connection closes or stays silent for the read timeout.
    fn next(&mut self) -> Option<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        loop {
            while let Some(head) = zmtp::next_frame(&self.buf, zmtp::MAX_MESSAGE_BYTES).unwrap() {
                let end = head.header_len + head.body_len;
                let body = self.buf[head.header_len..end].to_vec();
                self.buf.drain(..end);
                if head.command {
                    continue;
                }
                frames.push(body);
                if !head.more {
                    return Some(frames);
                }
            }
            let mut chunk = [0; 4096];
            match self.stream.read(&mut chunk) {
                Ok(n) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    pub fn heartbeat(&mut self) -> std::io::Result<()> {
        self.send(&[b"", &MSG_HEARTBEAT.to_le_bytes()])
    }

    /// Announces model `name:1`, taking doubles.
    pub fn introduce(&mut self, name: &str) -> std::io::Result<()> {
        self.send(&[
            b"",
            &MSG_NEW_CONTAINER.to_le_bytes(),
            name.as_bytes(),
            b"1",
            b"3",
            &RPC_VERSION.to_le_bytes(),
        ])
    }

    /// Answers every prediction request with `output(input)` per query, on a thread of its own, until the
    /// connection closes or falls silent.
    pub fn serve(mut self, output: impl Fn(&[u8]) -> String + Send + 'static) {
        std::thread::spawn(move || {
            while let Some(frames) = self.next() {
                // [delimiter, RPC version, content, msg_id, request type, header length, header, inputs...]
                let content = MSG_CONTAINER_CONTENT.to_le_bytes();
                if frames.len() < 7 || frames[2] != content {
                    continue;
                }
                let msg_id = u32::from_le_bytes(frames[3][..4].try_into().unwrap());
                let outputs: Vec<String> = frames[7..].iter().map(|i| output(i)).collect();
                let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
                let answer = response(msg_id, &outputs);
                let answer: Vec<&[u8]> = answer.iter().map(Vec::as_slice).collect();
                if self.send(&answer).is_err() {
                    return;
                }
            }
        });
    }
}

/// Registers model `name:1` (doubles, adaptive batches) as the frontend would; returns its id.
pub fn configure(runtime: &Runtime, name: &str) -> u32 {
    let model = runtime.shared.table.id_for(name, "1");
    let configure = Command::Configure {
        model,
        input_type: InputType::Doubles,
        batching: Batching::sized(-1),
        latency_objective: Duration::from_secs(1),
    };
    runtime.shared.send(configure).unwrap();
    model
}

fn replicas(runtime: &Runtime) -> Vec<String> {
    let snapshot = runtime.shared.snapshot();
    let mut names: Vec<String> = snapshot.map_or_else(Vec::new, |s| {
        s.replicas.iter().map(|r| r.model_name.clone()).collect()
    });
    names.sort();
    names
}

/// Waits (boundedly: the engine publishes on every membership change) until `replicas` is `expected`.
pub fn await_replicas(runtime: &Runtime, expected: &[&str]) {
    let until = Instant::now() + Duration::from_secs(5);
    let mut seen = replicas(runtime);
    while seen != expected && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
        seen = replicas(runtime);
    }
    assert_eq!(seen, expected);
}
