//! kiln-registry integration tests against a real `docker-registry` on 127.0.0.1: push/pull, auth and
//! TLS, faults injected by a proxy, and interop with skopeo and dockerd.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod auth;
mod faults;
mod fixture;
mod interop;
mod proxy;
mod pushpull;
