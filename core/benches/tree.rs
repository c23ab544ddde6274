//! DataTree micro-benchmarks: insert and lookup of 100-byte znodes under one parent.
//! Run with `cargo bench -p zk-core --bench tree`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use zk_core::server::tree::{DataTree, Meta};

const KEYS: usize = 100_000;

fn path(i: usize) -> String {
    format!("/bench/k{i:07}")
}

const VALUE: [u8; 100] = [0x5a; 100];

fn meta(i: usize) -> Meta {
    Meta {
        czxid: i as i64,
        mzxid: i as i64,
        pzxid: i as i64,
        ..Meta::default()
    }
}

fn filled(n: usize) -> DataTree {
    let mut tree = DataTree::new();
    tree.insert("/bench", None, Meta::default());
    for i in 0..n {
        tree.insert(&path(i), Some(&VALUE), meta(i));
    }
    tree
}

fn bench_insert(c: &mut Criterion) {
    let paths: Vec<String> = (0..1000).map(|i| path(KEYS + i)).collect();
    let mut group = c.benchmark_group("tree");
    // Each sample rebuilds a 100k-node tree first: fewer samples keep the run short.
    group.sample_size(20);
    group.bench_function("insert_1000_into_100k", |b| {
        b.iter_batched(
            || filled(KEYS),
            |mut tree| {
                for (i, p) in paths.iter().enumerate() {
                    tree.insert(p, Some(&VALUE), meta(i));
                }
                tree
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_get(c: &mut Criterion) {
    let tree = filled(KEYS);
    let paths: Vec<String> = (0..KEYS).step_by(97).map(path).collect();
    let mut next = 0usize;
    c.bench_function("tree/get_in_100k", |b| {
        b.iter(|| {
            next = (next + 1) % paths.len();
            black_box(tree.get(black_box(&paths[next])).map(|n| n.data_len()))
        })
    });
}

criterion_group!(benches, bench_insert, bench_get);
criterion_main!(benches);
