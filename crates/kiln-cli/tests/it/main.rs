//! Integration tests of the kiln binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analyze;
mod build;
mod context;
mod lint;
mod parse;
mod plan;
mod registry;
mod scan;
mod store;

/// The `kiln` binary under test.
pub(crate) fn kiln() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("kiln").unwrap()
}

/// Runs `cmd`, expects success, and parses its stdout as JSON.
pub(crate) fn json_output(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}
