//! Integration tests of kiln-analyze: dive exactness on recorded goldens, image sources, detectors, diff,
//! CI gates and the HTML report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod detect;
mod diff;
mod fixture;
mod goldens;
mod html;
mod source;
mod tui;
