//! Diagnostics on stderr: errors that carry a place in a file rendered with the source line underlined
//! (miette; colour only on a terminal without `NO_COLOR`), and warnings.

use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// `e` as an error whose message ends with the rendered source snippet.
pub(crate) fn rendered<E: Diagnostic + std::fmt::Display>(e: E) -> anyhow::Error {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let mut snippet = String::new();
    // Only located errors have a snippet to show.
    if e.source_code().is_some() {
        let _ = GraphicalReportHandler::new_themed(theme).render_report(&mut snippet, &e);
    }
    if snippet.is_empty() { anyhow::anyhow!("{e}") } else { anyhow::anyhow!("{e}\n{snippet}") }
}

/// Prints `warning: <message>` on stderr.
#[allow(clippy::print_stderr)] // warnings are diagnostics, not data
pub(crate) fn warn(message: &str) {
    eprintln!("warning: {message}");
}
