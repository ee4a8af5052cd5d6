//! Build progress on stderr, behind kiln-build's `EventSink`: a plain log in BuildKit's `--progress=plain`
//! shape (`#N [stage k/n] INSTR`, `#N CACHED`, output lines with their time, `#N DONE 1.2s`, cache-miss
//! reasons), JSON lines (one event each), or nothing (`-q`). `auto` and `tty` are plain for now; a tty
//! view can be added here as another sink without touching the engine.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use clap::ValueEnum;
use kiln_build::{BuildEvent, EventSink};

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Plain for now (a tty view is planned).
    Auto,
    /// Plain for now.
    Tty,
    /// A line per event, BuildKit's plain format.
    Plain,
    /// One JSON object per event.
    Json,
    /// Nothing (what `-q` selects).
    Quiet,
}

/// The sink for `mode`.
pub(crate) fn sink(mode: Mode) -> std::sync::Arc<dyn EventSink> {
    match mode {
        Mode::Auto | Mode::Tty | Mode::Plain => std::sync::Arc::new(Plain::default()),
        Mode::Json => std::sync::Arc::new(Json),
        Mode::Quiet => std::sync::Arc::new(kiln_build::NoEvents),
    }
}

/// Replaces control characters (other than tab) so command output cannot drive the terminal.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c }).collect()
}

#[derive(Default)]
struct Plain {
    started: Mutex<HashMap<u32, Instant>>,
}

fn write_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

impl EventSink for Plain {
    fn emit(&self, event: BuildEvent) {
        let line = match event {
            BuildEvent::Plan { .. } => return,
            BuildEvent::Started { step, .. } => {
                if let Ok(mut s) = self.started.lock() {
                    s.insert(step.id, Instant::now());
                }
                format!("#{} {}\n", step.id, sanitize(&step.name))
            }
            BuildEvent::Cached { step } => {
                format!("#{} {}\n#{} CACHED\n\n", step.id, sanitize(&step.name), step.id)
            }
            BuildEvent::CacheMiss { step_id, reasons } => {
                format!("#{step_id} cache miss: {}\n", sanitize(&reasons.join(", ")))
            }
            BuildEvent::Log { step_id, line } => {
                let t = self.started.lock().ok().and_then(|s| s.get(&step_id).map(Instant::elapsed));
                format!("#{step_id} {:.3} {}\n", t.map_or(0.0, |d| d.as_secs_f64()), sanitize(&line))
            }
            BuildEvent::Done { step_id, elapsed, cached } => {
                if cached {
                    return;
                }
                format!("#{step_id} DONE {:.1}s\n\n", elapsed.as_secs_f64())
            }
            BuildEvent::Failed { step_id, message } => {
                format!("#{step_id} ERROR: {}\n\n", sanitize(&message))
            }
            BuildEvent::Warning { message } => format!("WARNING: {}\n", sanitize(&message)),
            BuildEvent::Exporting { what } => format!("#0 {}\n", sanitize(&what)),
        };
        write_err(&line);
    }
}

struct Json;

impl EventSink for Json {
    fn emit(&self, event: BuildEvent) {
        if let Ok(mut s) = serde_json::to_string(&event) {
            s.push('\n');
            write_err(&s);
        }
    }
}
