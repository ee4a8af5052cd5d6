//! Layer write throughput: `write_tree` (tar + sha256) of a generated ~300 MB tree (half random, half
//! compressible text, 3,000 files), plain and compressed on the fly with gzip (all cores) and zstd. Then
//! the way back (group `layer_read`): `decompress` of that layer as kiln's gzip wrote it (sized members,
//! inflated by libdeflate) and as a single-member gzip from another producer (streamed through zlib-rs).
//!
//! The tree is generated once into `/tmp/kiln-layer-bench/` (reused by `bench/layer-export.sh` to time
//! `docker save` / `buildah push` on the same files). Under `cargo test` (no `--bench`) a 3 MB tree is used.
//! Run: `cargo bench -p kiln-layer --bench layer_write`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_layer::{CompressOptions, Compression, WriteOptions, write_tree, write_tree_compressed};

const FILES: usize = 3000;

/// splitmix64: a fixed, fast generator so every run benchmarks the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const WORDS: &[&str] = &[
    "layer", "image", "build", "cache", "stage", "the", "of", "and", "install", "package", "kiln", "docker",
    "run", "copy", "from", "digest", "sha256", "config", "manifest", "tar", "gzip", "zstd", "overlay",
    "snapshot", "root",
];

/// Generates the tree (once) and returns its path and total content size.
fn tree(total: u64) -> (PathBuf, u64) {
    let dir = PathBuf::from(format!("/tmp/kiln-layer-bench/tree-{total}"));
    let done = dir.with_extension("done");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        generate(&dir, total);
        std::fs::write(&done, total.to_string()).unwrap();
    }
    (dir, total)
}

fn generate(dir: &Path, total: u64) {
    let mut rng = Rng(42);
    let per_file = total / FILES as u64;
    let mut left = total;
    for i in 0..FILES {
        let sub = dir.join(format!("d{:02}/s{}", i % 30, i % 7));
        std::fs::create_dir_all(&sub).unwrap();
        // Sizes between 0.1x and 1.9x the mean, the last file takes the remainder.
        let size =
            if i == FILES - 1 { left } else { (per_file / 10 + rng.next() % (per_file * 18 / 10)).min(left) };
        left -= size;
        let mut data = Vec::with_capacity(size as usize + 16);
        if i % 2 == 0 {
            while (data.len() as u64) < size {
                data.extend_from_slice(&rng.next().to_le_bytes());
            }
        } else {
            while (data.len() as u64) < size {
                let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
                data.extend_from_slice(w.as_bytes());
                data.push(if rng.next().is_multiple_of(12) { b'\n' } else { b' ' });
            }
        }
        data.truncate(size as usize);
        std::fs::write(sub.join(format!("f{i:04}.{}", if i % 2 == 0 { "bin" } else { "txt" })), data)
            .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (root, bytes) = tree(if benchmarking { 300_000_000 } else { 3_000_000 });
    let opts = WriteOptions { source_date_epoch: Some(0), ..WriteOptions::default() };
    let mut group = c.benchmark_group("layer_write");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("plain (tar + sha256)", |b| {
        b.iter(|| write_tree(&root, &opts, std::io::sink()).unwrap());
    });
    for (name, compression) in [("gzip all cores", Compression::Gzip), ("zstd level 3", Compression::Zstd)] {
        group.measurement_time(Duration::from_secs(if benchmarking { 40 } else { 1 }));
        let copts = CompressOptions { compression, level: None, threads: 0 };
        group.bench_function(name, |b| {
            b.iter(|| write_tree_compressed(&root, &opts, &copts, std::io::sink()).unwrap());
        });
    }
    group.finish();

    let mut tar = Vec::new();
    write_tree(&root, &opts, &mut tar).unwrap();
    let mut ours = Vec::new();
    let gzip = CompressOptions { compression: Compression::Gzip, level: None, threads: 0 };
    kiln_layer::compress(&tar[..], &mut ours, &gzip).unwrap();
    let mut theirs = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    theirs.write_all(&tar).unwrap();
    let theirs = theirs.finish().unwrap();
    let mut group = c.benchmark_group("layer_read");
    group.throughput(Throughput::Bytes(tar.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if benchmarking { 20 } else { 1 }));
    for (name, gz) in [("kiln gzip (libdeflate)", &ours), ("other gzip (zlib-rs)", &theirs)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let (_, mut plain) = kiln_layer::decompress(&gz[..]).unwrap();
                assert_eq!(
                    kiln_layer::copy_large(&mut plain, &mut std::io::sink()).unwrap(),
                    tar.len() as u64
                );
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
