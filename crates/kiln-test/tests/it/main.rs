//! Workspace-level checks that belong to no single crate.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod layering;
