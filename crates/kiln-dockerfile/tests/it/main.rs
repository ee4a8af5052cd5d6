//! Integration tests of kiln-dockerfile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod conformance;
mod expansion;
mod instructions;
mod roundtrip;
