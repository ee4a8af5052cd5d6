//! kiln-store integration tests: blobs, image records and refs, cache and memo, snapshots, leases and GC,
//! import/export transports, and multi-process crash and concurrency behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod build_cache;
mod gc;
mod images;
mod interop;
mod snapshots;
mod support;
mod transport;
