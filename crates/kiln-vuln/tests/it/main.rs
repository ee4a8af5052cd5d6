//! kiln-vuln integration tests: version ordering vectors per ecosystem, property tests, and more to come.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod version;
