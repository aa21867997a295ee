//! Criterion benchmark of the response cache's key path: every cached partner request hashes its
//! route, parameters and shaping before it can be answered, so this is on the hit path.

use ats_gateway::cache::KeyBuilder;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let query =
        "page_size=50&status=active&company=usmf&sort=-created&lang=nb-NO&embed=positions,skills";
    c.bench_function("cache key of a list request", |b| {
        b.iter(|| {
            black_box(
                KeyBuilder::new("/v1/recruiting-requests")
                    .query(black_box(query))
                    .field("companies", "usmf,usrt,nomf")
                    .field("pii", "false")
                    .opt("continuation", None)
                    .finish(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
