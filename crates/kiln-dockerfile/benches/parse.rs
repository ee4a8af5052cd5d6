//! Parsing speed: a ~150-line multi-stage Dockerfile through the syntax layer alone and through
//! `parse` (syntax + typed instructions). Target: well under 100 µs per file.
//!
//! The bench uses mimalloc, the allocator the `kiln` binary links, so it measures what `kiln lint` and
//! `kiln build` see; a parse makes ~1,100 small allocations, which glibc's malloc makes ~1.6x slower.
//!
//! Run: `cargo bench -p kiln-dockerfile --bench parse`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LARGE: &str = include_str!("large.Dockerfile");

fn bench(c: &mut Criterion) {
    assert!(kiln_dockerfile::parse(LARGE).is_ok(), "the benchmark Dockerfile must parse");
    c.bench_function("syntax/large-multistage", |b| {
        b.iter(|| kiln_dockerfile::syntax::parse_syntax("Dockerfile", black_box(LARGE)))
    });
    c.bench_function("parse/large-multistage", |b| b.iter(|| kiln_dockerfile::parse(black_box(LARGE))));
    let ignore = "# build outputs\ntarget\n**/node_modules\n*.log\n!important.log\ndocs/**/*.tmp\n.git\n";
    let di = kiln_dockerfile::ignore::DockerIgnore::parse(".dockerignore", ignore).unwrap_or_default();
    c.bench_function("dockerignore/matches", |b| {
        b.iter(|| di.matches(black_box("web/src/components/node_modules/react/index.js")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
