//! Writing data to stdout: commands print through these helpers so a closed pipe (`kiln images | head`)
//! ends quietly instead of panicking, and JSON output is formatted one way everywhere.

use std::io::Write;

/// Writes `text` and a newline to stdout; a broken pipe is ignored.
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Writes `text` as is to stdout; a broken pipe is ignored.
#[allow(dead_code)] // used by commands that render multi-line text
pub(crate) fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes `value` as pretty JSON and a newline to stdout.
#[allow(dead_code)] // used by every `--format json`
pub(crate) fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let s = serde_json::to_string_pretty(value)?;
    line(&s);
    Ok(())
}
