//! kiln-audit integration tests: images built in the test by writing layers into a store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;
mod image;
