//! Criterion benchmarks of the per-query hot path: the RPC codec, the deadline queue, the batch former,
//! the prediction cache, and the engine's submit → batch → response round trip (no sockets).

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clipper_core::batching::{sizer_for, Batching, LatencyFit, Sizing};
use clipper_core::cache::PredictionCache;
use clipper_core::engine::{Command, Engine, EngineConfig, ModelTable};
use clipper_core::http::predict::parse;
use clipper_core::queue::{DeadlineQueue, Query};
use clipper_core::rpc::{decode_container_message, encode_prediction_request, Frame, InputType};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn inputs(n: usize) -> Vec<Frame> {
    let data: Arc<[u8]> = Arc::from(vec![7u8; n * 64]);
    (0..n)
        .map(|i| Frame::Shared(data.clone(), i * 64, (i + 1) * 64))
        .collect()
}

fn response_frames(n: usize) -> Vec<Vec<u8>> {
    let mut header = (n as u64).to_le_bytes().to_vec();
    for _ in 0..n {
        header.extend_from_slice(&1u64.to_le_bytes());
    }
    let mut frames = vec![
        vec![],
        1u32.to_le_bytes().to_vec(),
        0u32.to_le_bytes().to_vec(),
    ];
    frames.push((header.len() as u64).to_le_bytes().to_vec());
    frames.push(header);
    frames.extend((0..n).map(|_| b"0".to_vec()));
    frames
}

fn codec(c: &mut Criterion) {
    c.bench_function("codec/encode_request_batch_32", |b| {
        b.iter_batched(
            || inputs(32),
            |i| black_box(encode_prediction_request(1, InputType::Doubles, i)),
            BatchSize::SmallInput,
        )
    });
    let frames = response_frames(32);
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    c.bench_function("codec/decode_response_batch_32", |b| {
        b.iter(|| black_box(decode_container_message(black_box(&refs))))
    });
}

fn http(c: &mut Criterion) {
    // An MNIST-sized body as bench/wrk/features_784.lua writes it.
    let values: Vec<String> = (0..784)
        .map(|i| format!("{:.4}", (i as f64 * 0.618) % 1.0))
        .collect();
    let body = format!("{{\"input\": [{}]}}", values.join(","));
    c.bench_function("http/parse_predict_784_doubles", |b| {
        b.iter(|| black_box(parse(black_box(body.as_bytes()), InputType::Doubles)))
    });
}

fn queue(c: &mut Criterion) {
    c.bench_function("queue/push_then_pop_batch_of_32", |b| {
        let now = Instant::now();
        b.iter(|| {
            let mut q = DeadlineQueue::default();
            for i in 0..32u64 {
                q.push(Query {
                    id: i,
                    submitted: now,
                    deadline: now + Duration::from_millis(100 - i),
                    input: Frame::Owned(Vec::new()),
                });
            }
            black_box(q.pop_batch(32, now, Duration::ZERO, |_| true))
        })
    });
}

fn engine_round_trip(c: &mut Criterion) {
    c.bench_function("engine/submit_dispatch_answer_32_queries", |b| {
        let now = Instant::now();
        let table = Arc::new(ModelTable::default());
        let model = table.id_for("m", "1");
        let cache = Arc::new(Mutex::new(PredictionCache::new(0)));
        let mut engine = Engine::new(EngineConfig::default(), table, cache, now);
        engine.apply(
            Command::Configure {
                model,
                input_type: InputType::Doubles,
                batching: Batching::sized(32),
                latency_objective: Duration::from_millis(100),
            },
            now,
        );
        let hello: Vec<Vec<u8>> = vec![
            vec![],
            0u32.to_le_bytes().to_vec(),
            b"m".to_vec(),
            b"1".to_vec(),
            b"3".to_vec(),
            3u32.to_le_bytes().to_vec(),
        ];
        let hello: Vec<&[u8]> = hello.iter().map(Vec::as_slice).collect();
        engine.on_message(b"c", &hello, now);
        let mut next_id = 0u64;
        let mut msg_id = 0u32;
        b.iter(|| {
            let queries = (0..32)
                .map(|_| {
                    next_id += 1;
                    // Distinct inputs: identical ones would share one computation.
                    Query {
                        id: next_id,
                        submitted: now,
                        deadline: now + Duration::from_secs(3600),
                        input: Frame::Owned(next_id.to_le_bytes().repeat(8)),
                    }
                })
                .collect();
            engine.apply(Command::Submit { model, queries }, now);
            engine.outbox.clear();
            let mut frames = response_frames(32);
            frames[2] = msg_id.to_le_bytes().to_vec();
            msg_id += 1;
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            engine.on_message(b"c", &refs, now);
            black_box(engine.done.drain(..).count())
        })
    });
}

fn batch_former(c: &mut Criterion) {
    for (name, sizing) in [("adaptive", Sizing::Aimd), ("quantile", Sizing::Quantile)] {
        c.bench_function(&format!("batching/{name}_observe_and_size"), |b| {
            let objective = Duration::from_millis(20);
            let batching = Batching {
                batch_size: -1,
                sizing,
                delay: Duration::ZERO,
            };
            let mut sizer = sizer_for(batching, objective);
            // The engine feeds every model's fit, whatever its sizer; the quantile sizer refits it.
            let mut fit = LatencyFit::default();
            let mut turn = 0u64;
            b.iter(|| {
                turn += 1;
                // Mostly fast full batches with an occasional slow one, so both branches run.
                let latency =
                    Duration::from_micros(if turn.is_multiple_of(16) { 30_000 } else { 500 });
                let size = sizer.max_batch(objective, &fit);
                sizer.observe(size, latency);
                fit.observe(size, latency);
                black_box(sizer.max_batch(objective, &fit))
            })
        });
    }
}

fn cache(c: &mut Criterion) {
    let input = |i: u64| {
        let mut v = vec![0u8; 64];
        v[..8].copy_from_slice(&i.to_le_bytes());
        v
    };
    c.bench_function("cache/hit_64_byte_input", |b| {
        let mut cache = PredictionCache::new(32 << 20);
        for i in 0..10_000 {
            cache.insert(1, &input(i), b"0.5");
        }
        let probe = input(4_321);
        b.iter(|| black_box(cache.get(1, black_box(&probe)).map(<[u8]>::len)))
    });
    c.bench_function("cache/insert_evicting_when_full", |b| {
        // Filled first, so that every measured insert also evicts.
        let mut cache = PredictionCache::new(1 << 20);
        let mut next = 0u64;
        while cache.stats().evictions == 0 {
            next += 1;
            cache.insert(1, &input(next), b"0.5");
        }
        b.iter(|| {
            next += 1;
            cache.insert(1, &input(next), b"0.5");
        });
    });
}

criterion_group!(
    benches,
    codec,
    http,
    queue,
    batch_former,
    cache,
    engine_round_trip
);
criterion_main!(benches);
