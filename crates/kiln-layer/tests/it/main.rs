//! Integration tests of kiln-layer: round trips, hostile tars, reproducibility, overlay uppers, formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod formats;
mod hostile;
mod overlay;
mod rawtar;
mod reproducible;
mod roundtrip;
mod support;
mod whiteouts;
