//! kiln-vuln integration tests: version ordering vectors per ecosystem and property tests, the OSV
//! database (import, status, lookups) on fixtures written from real advisories, and matching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod matching;
mod osvdb;
mod version;
