//! kiln-lint's integration tests: every rule's triggering and near-miss cases (checked against hadolint
//! too when it is installed), fixes, report formats, configuration and pragmas, and the generated docs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod cases;
mod config;
mod docs;
mod fixes;
mod formats;
mod oracle;
mod rules;
