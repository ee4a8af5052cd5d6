//! Integration tests of the kiln binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod parse;
mod store;
