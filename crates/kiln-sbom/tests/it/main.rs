//! kiln-sbom integration tests: synthetic images written into a store in the test (no tools needed),
//! cataloged and written in every format; the standard formats are validated against their JSON schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // skips are reported on stderr

mod catalog;
mod fixture;
mod formats;
mod parity;
