//! Completions: answered queries waiting for the frontend to collect them in batches.
//!
//! Owns the hand-over between the core thread and the caller of `clipper_poll_completions`, and the
//! record layout written into the caller's buffer. One lock per engine iteration and per poll, never one
//! callback per query (README, Architecture). Must not decide outcomes.
//!
//! Record layout, little-endian, packed back to back:
//! `u64 query_id, u32 status, u32 payload_len, u32 model_latency_micros, u32 batch_size, payload`.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub const RECORD_HEADER_BYTES: usize = 28;

/// How a query ended. The numeric values are part of the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The model answered; the payload is its UTF-8 output.
    Ok = 0,
    /// The latency objective passed first: answer with the app's default output.
    DeadlineMissed = 1,
    /// No replica of the model was connected.
    NoConnectedModel = 2,
    /// The container reported a failure for the batch, or answered it malformed; payload explains.
    ModelError = 3,
    /// The model was removed while the query waited; payload explains.
    Dropped = 4,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Completion {
    pub id: u64,
    pub status: Status,
    pub latency_micros: u32,
    pub batch_size: u32,
    /// From submission to its batch being sent (0 when no batch was sent for it).
    pub queue_micros: u32,
    pub payload: Vec<u8>,
}

impl Completion {
    pub fn without_model(id: u64, status: Status, payload: Vec<u8>) -> Completion {
        Completion {
            id,
            status,
            latency_micros: 0,
            batch_size: 0,
            queue_micros: 0,
            payload,
        }
    }

    fn encoded_len(&self) -> usize {
        RECORD_HEADER_BYTES + self.payload.len()
    }
}

/// Writes one record into the front of `out`, which must hold `RECORD_HEADER_BYTES + payload.len()`
/// bytes. Also used by `clipper_submit` for answers found in the prediction cache.
pub fn write_record(
    out: &mut [u8],
    id: u64,
    status: Status,
    latency_micros: u32,
    batch_size: u32,
    queue_micros: u32,
    payload: &[u8],
) {
    out[0..8].copy_from_slice(&id.to_le_bytes());
    out[8..12].copy_from_slice(&(status as u32).to_le_bytes());
    out[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[16..20].copy_from_slice(&latency_micros.to_le_bytes());
    out[20..24].copy_from_slice(&batch_size.to_le_bytes());
    out[24..28].copy_from_slice(&queue_micros.to_le_bytes());
    out[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + payload.len()].copy_from_slice(payload);
}

#[derive(Debug, PartialEq, Eq)]
pub enum PollError {
    Closed,
    TimedOut,
    /// The next record needs this many bytes; nothing was taken.
    BufferTooSmall(usize),
}

#[derive(Default)]
struct State {
    items: VecDeque<Completion>,
    closed: bool,
}

#[derive(Default)]
pub struct CompletionQueue {
    state: Mutex<State>,
    ready: Condvar,
}

impl CompletionQueue {
    pub fn push_all(&self, done: &mut Vec<Completion>) {
        if done.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.items.extend(done.drain(..));
        self.ready.notify_all();
    }

    /// Wakes every waiting poll with `Closed` once the queue is empty.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// Waits up to `timeout` for at least one completion, then writes as many records as fit into `buf`.
    /// Returns (records written, bytes used).
    pub fn poll_into(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(usize, usize), PollError> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |s| s.items.is_empty() && !s.closed)
            .unwrap_or_else(|p| p.into_inner());
        if state.items.is_empty() {
            return Err(if state.closed {
                PollError::Closed
            } else {
                PollError::TimedOut
            });
        }
        let (mut count, mut used) = (0, 0);
        while let Some(next) = state.items.front() {
            let len = next.encoded_len();
            if used + len > buf.len() {
                if count == 0 {
                    return Err(PollError::BufferTooSmall(len));
                }
                break;
            }
            write_record(
                &mut buf[used..used + len],
                next.id,
                next.status,
                next.latency_micros,
                next.batch_size,
                next.queue_micros,
                &next.payload,
            );
            used += len;
            count += 1;
            state.items.pop_front();
        }
        Ok((count, used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(id: u64, payload: &[u8]) -> Completion {
        Completion {
            id,
            status: Status::Ok,
            latency_micros: 5,
            batch_size: 2,
            queue_micros: 3,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn records_are_written_back_to_back_in_the_documented_layout() {
        let q = CompletionQueue::default();
        q.push_all(&mut vec![done(1, b"ab"), done(2, b"")]);
        let mut buf = [0u8; 64];
        assert_eq!(q.poll_into(&mut buf, Duration::ZERO), Ok((2, 58)));
        assert_eq!(&buf[0..8], &1u64.to_le_bytes());
        assert_eq!(&buf[8..12], &0u32.to_le_bytes());
        assert_eq!(&buf[12..16], &2u32.to_le_bytes());
        assert_eq!(&buf[16..28], &[5, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&buf[28..30], b"ab");
        assert_eq!(&buf[30..38], &2u64.to_le_bytes());
    }

    #[test]
    fn a_record_that_does_not_fit_stays_queued_and_names_its_size() {
        let q = CompletionQueue::default();
        q.push_all(&mut vec![done(1, &[7; 100])]);
        let mut small = [0u8; 32];
        assert_eq!(
            q.poll_into(&mut small, Duration::ZERO),
            Err(PollError::BufferTooSmall(128))
        );
        let mut big = [0u8; 200];
        assert_eq!(q.poll_into(&mut big, Duration::ZERO), Ok((1, 128)));
    }

    #[test]
    fn an_empty_queue_times_out_and_a_closed_one_says_closed() {
        let q = CompletionQueue::default();
        let mut buf = [0u8; 32];
        assert_eq!(
            q.poll_into(&mut buf, Duration::from_millis(1)),
            Err(PollError::TimedOut)
        );
        q.close();
        assert_eq!(
            q.poll_into(&mut buf, Duration::from_secs(5)),
            Err(PollError::Closed)
        );
    }
}
