//! Integration tests of kiln-build: real builds as root, from a busybox base image made on the fly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod basics;
mod copy;
mod differential;
mod docker;
mod mounts;
mod remote_cache;
mod stages;
