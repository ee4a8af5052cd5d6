//! Context walk and checksum of the 5,000-file `big-context` fixture (`../shared/bench/fixtures`):
//! the walk (kiln's rayon walker with 1 and all threads, against a sequential `walkdir` walk), and the
//! checksum of `COPY . /` cold (no memo: every file read) and memoized (a new process with a filled memo).
//!
//! Skips with a message when the fixture generator is absent. Run: `cargo bench -p kiln-context`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_context::{Context, MemoryMemo, NoMemo, SourceSpec};

/// Generates (or reuses) the fixture in the temp dir, with mtimes a day back so the memo may keep them.
fn fixture() -> Option<PathBuf> {
    let Some(script) = kiln_test::shared_dir("bench/fixtures/gen-big-context.sh") else {
        eprintln!("SKIPPED kiln-context bench: ../shared/bench/fixtures/gen-big-context.sh is absent");
        return None;
    };
    let dir = std::env::temp_dir().join("kiln-bench-big-context");
    let status = Command::new("sh").arg(&script).arg(&dir).status().expect("running gen-big-context.sh");
    assert!(status.success(), "gen-big-context.sh failed");
    let day_ago = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 86_400, 0);
    for e in
        walkdir::WalkDir::new(&dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file())
    {
        filetime::set_file_mtime(e.path(), day_ago).unwrap();
    }
    Some(dir)
}

fn walkdir_sequential(root: &Path) -> usize {
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let _ = e.metadata().unwrap();
            e.into_path()
        })
        .collect();
    paths.sort();
    paths.len()
}

fn bench(c: &mut Criterion) {
    let Some(dir) = fixture() else { return };
    let ctx = Context::from_dir(&dir, None).unwrap();
    let files = ctx.entries().unwrap().iter().filter(|e| !e.is_dir()).count();
    eprintln!("big-context: {files} files");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();

    let mut g = c.benchmark_group("walk");
    g.bench_function("kiln walker, all threads", |b| b.iter(|| ctx.entries().unwrap().len()));
    g.bench_function("kiln walker, 1 thread", |b| b.iter(|| one.install(|| ctx.entries().unwrap().len())));
    g.bench_function("walkdir sequential", |b| b.iter(|| walkdir_sequential(&dir)));
    g.finish();

    let spec = SourceSpec::new(".");
    let mut g = c.benchmark_group("checksum COPY . /");
    g.sample_size(20);
    g.bench_function("cold (no memo, every file read)", |b| {
        b.iter(|| {
            let ctx = Context::from_dir(&dir, None).unwrap();
            let sel = ctx.select(&spec).unwrap();
            ctx.checksum(&[sel], &NoMemo).unwrap().digest
        })
    });
    let memo = MemoryMemo::default();
    let warm = Context::from_dir(&dir, None).unwrap();
    let stats = warm.checksum(&[warm.select(&spec).unwrap()], &memo).unwrap().stats;
    assert_eq!(memo.len(), stats.files, "every file memoized");
    g.bench_function("memoized (new process, filled memo)", |b| {
        b.iter(|| {
            let ctx = Context::from_dir(&dir, None).unwrap();
            let sel = ctx.select(&spec).unwrap();
            let sum = ctx.checksum(&[sel], &memo).unwrap();
            assert_eq!(sum.stats.hashed, 0);
            sum.digest
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
