//! Memory follows what arrived, never what the bytes claim: peak heap use while decoding input that lies
//! about its size (a ZMTP frame header claiming 2^40 or 2^63 bytes, an RPC output header claiming 2^40
//! outputs) stays within a few times the input's real length plus a constant. Measured by a counting global
//! allocator, so this file is its own test binary; counts are per thread, so its tests may run in parallel.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use clipper_core::http::predict::parse;
use clipper_core::rpc::zmtp::{next_frame, Deframer, ZmtpError, MAX_MESSAGE_BYTES, READ_CHUNK};
use clipper_core::rpc::{decode_container_message, InputType};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(by: usize) {
    // `try_with`: a thread being torn down has no counters left, and its frees need none.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + by);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn shrink(by: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(by)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the new block arriving before the old one leaves, as a moving realloc does.
        grow(new_size);
        shrink(layout.size());
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes `work` held on the heap at once beyond what was live before it, and its result.
fn peak_of<T>(work: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = work();
    (PEAK.with(Cell::get) - before, result)
}

/// A long frame header claiming `size` bytes, followed by `body_bytes` bytes of body.
fn lying_frame(size: u64, body_bytes: usize) -> Vec<u8> {
    let mut wire = vec![0x02];
    wire.extend_from_slice(&size.to_be_bytes());
    wire.resize(wire.len() + body_bytes, 7);
    wire
}

/// Feeds `wire` to a deframer refusing frames over `limit`, in reads of at most `READ_CHUNK` bytes as the
/// router's socket reads are; the first error, if any.
fn deframe(limit: usize, wire: &[u8]) -> Option<ZmtpError> {
    let mut deframer = Deframer::new(limit, BytesMut::new());
    for read in wire.chunks(READ_CHUNK) {
        deframer.buffer().extend_from_slice(read);
        loop {
            match deframer.take() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(err) => return Some(err),
            }
        }
    }
    None
}

/// What the bound allows for an input of `len` bytes: the buffer a read fills (`READ_CHUNK`, doubled
/// when it grows), and a few times what arrived.
fn bound(len: usize) -> usize {
    4 * len + 2 * READ_CHUNK + 4096
}

#[test]
fn a_frame_header_claiming_2_40_or_2_63_bytes_reserves_nothing_of_it() {
    for claimed in [1u64 << 40, 1 << 63, u64::MAX] {
        // Under the largest limit there is it is refused from the header; under a limit of the whole
        // address space it is accepted and waits for its body, holding only what arrived.
        for (limit, refused) in [(MAX_MESSAGE_BYTES, true), (usize::MAX, false)] {
            let wire = lying_frame(claimed, 100);
            let (peak, err) = peak_of(|| deframe(limit, &wire));
            assert_eq!(err.is_some(), refused, "{claimed} under {limit}");
            assert!(
                peak <= bound(wire.len()),
                "{claimed} under {limit}: peak {peak} bytes"
            );
            assert_eq!(
                next_frame(&wire, limit).map(|h| h.is_some()),
                err.map_or(Ok(false), Err)
            );
        }
    }
}

#[test]
fn a_frame_within_the_limit_but_cut_short_holds_only_the_bytes_that_arrived() {
    // Claims the whole 1 GiB limit and sends 1 MiB of it: memory follows the megabyte.
    let wire = lying_frame(MAX_MESSAGE_BYTES as u64, 1 << 20);
    let (peak, err) = peak_of(|| deframe(MAX_MESSAGE_BYTES, &wire));
    assert_eq!(err, None);
    assert!(
        peak <= bound(wire.len()),
        "peak {peak} bytes for {} arrived",
        wire.len()
    );
}

#[test]
fn an_output_header_claiming_2_40_outputs_allocates_for_the_header_it_has() {
    let mut header = (1u64 << 40).to_le_bytes().to_vec();
    header.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let length = (header.len() as u64).to_le_bytes();
    let frames: Vec<&[u8]> = vec![b"", &[1, 0, 0, 0], &[5, 0, 0, 0], &length, &header, b"x"];
    let input: usize = frames.iter().map(|f| f.len()).sum();
    let (peak, decoded) = peak_of(|| decode_container_message(&frames).is_ok());
    assert!(!decoded);
    assert!(peak <= bound(input), "peak {peak} bytes");
}

#[test]
fn a_predict_body_costs_a_bounded_multiple_of_its_length() {
    // The worst case per byte: a one-digit number and its comma (2 bytes) become an 8-byte double, and the
    // output vector may have doubled once: 8 times the input, plus the offsets.
    let numbers = vec!["1"; 100_000].join(",");
    let body = format!(r#"{{"input_batch": [[{numbers}]]}}"#);
    let (peak, parsed) = peak_of(|| parse(body.as_bytes(), InputType::Doubles).is_some());
    assert!(parsed);
    assert!(
        peak <= 8 * body.len() + 4096,
        "peak {peak} bytes for {} bytes",
        body.len()
    );
}

#[test]
fn the_counter_sees_what_is_allocated_so_the_bounds_above_can_fail() {
    let (peak, held) = peak_of(|| vec![1u8; 1 << 20]);
    assert!(peak >= 1 << 20, "peak {peak} bytes");
    drop(held);
    let (peak, ()) = peak_of(|| drop(Vec::<u8>::with_capacity(3 << 20)));
    assert!(peak >= 3 << 20, "peak {peak} bytes");
}
