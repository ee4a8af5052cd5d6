//! Integration tests of kiln-sandbox: real runs on a busybox rootfs (root only), isolation checks with a
//! probe binary, and cleanup checks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cleanup;
mod isolation;
mod run;
mod support;
