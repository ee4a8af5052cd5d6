//! Build progress on stderr, behind kiln-build's `EventSink`: a plain log in BuildKit's `--progress=plain`
//! shape (`#N [stage k/n] INSTR`, `#N CACHED`, output lines with their time, `#N DONE 1.2s`, cache-miss
//! reasons), JSON lines (one event each), nothing (`-q`), or BuildKit's tty view: a header with the elapsed
//! time and finished/total steps, one line per started step (`=> [build 2/5] RUN make   1.2s`, `=> CACHED
//! ...`, `=> ERROR ...`) and, under a running step, the last lines of its output, redrawn in place ten times
//! a second. `auto` is the tty view when stderr is a terminal, else plain.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use kiln_build::{BuildEvent, EventSink, StepInfo};

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// The tty view when stderr is a terminal, else plain.
    Auto,
    /// The tty view (redrawn in place).
    Tty,
    /// A line per event, BuildKit's plain format.
    Plain,
    /// One JSON object per event.
    Json,
    /// Nothing (what `-q` selects).
    Quiet,
}

/// The progress display of one build: its event sink, and for the tty view the redraw thread, which
/// draws the final frame when this is dropped (before any error is printed).
pub(crate) struct Progress {
    sink: Arc<dyn EventSink>,
    tty: Option<(Arc<Tty>, JoinHandle<()>)>,
}

impl Progress {
    /// The sink to give the engine.
    pub(crate) fn events(&self) -> Arc<dyn EventSink> {
        self.sink.clone()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((tty, thread)) = self.tty.take() {
            tty.stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

/// The progress display for `mode`.
pub(crate) fn sink(mode: Mode) -> Progress {
    let tty = match mode {
        Mode::Tty => true,
        Mode::Auto => std::io::stderr().is_terminal(),
        _ => false,
    };
    if tty {
        let view = Arc::new(Tty::default());
        let drawer = view.clone();
        let thread = std::thread::Builder::new()
            .name("kiln-progress".into())
            .spawn(move || drawer.draw_until_stopped());
        if let Ok(thread) = thread {
            return Progress { sink: view.clone(), tty: Some((view, thread)) };
        }
    }
    let sink: Arc<dyn EventSink> = match mode {
        Mode::Json => Arc::new(Json),
        Mode::Quiet => Arc::new(kiln_build::NoEvents),
        Mode::Auto | Mode::Tty | Mode::Plain => Arc::new(Plain::default()),
    };
    Progress { sink, tty: None }
}

/// Replaces control characters (other than tab) so command output cannot drive the terminal.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c }).collect()
}

#[derive(Default)]
struct Plain {
    started: Mutex<HashMap<u32, Instant>>,
}

/// Lines of a running step's output shown under it.
const TAIL_LINES: usize = 6;

/// Where a step is.
enum Status {
    Running(Instant),
    Cached,
    Done(Duration),
    Failed(Duration),
}

/// One started step in the tty view.
struct Row {
    step: StepInfo,
    status: Status,
    tail: VecDeque<String>,
    miss: Option<String>,
}

/// What the tty view shows.
#[derive(Default)]
struct View {
    total: usize,
    rows: Vec<Row>,
    notes: Vec<String>,
    /// Lines drawn by the previous frame (moved up over and cleared by the next one).
    drawn: usize,
}

/// BuildKit's tty view: events update a [`View`]; a thread redraws it.
struct Tty {
    view: Mutex<View>,
    stop: AtomicBool,
    start: Instant,
}

impl Default for Tty {
    fn default() -> Self {
        Tty { view: Mutex::new(View::default()), stop: AtomicBool::new(false), start: Instant::now() }
    }
}

impl Tty {
    fn draw_until_stopped(&self) {
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80);
        while !self.stop.load(Ordering::Relaxed) {
            self.draw(width, false);
            std::thread::sleep(Duration::from_millis(100));
        }
        self.draw(width, true);
    }

    fn draw(&self, width: usize, last: bool) {
        let Ok(mut view) = self.view.lock() else { return };
        let frame = view.frame(self.start.elapsed(), width.max(20) - 1, last);
        let mut out = String::new();
        if view.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", view.drawn));
        }
        for line in &frame {
            out.push_str(line);
            out.push_str("\x1b[K\n");
        }
        // Clear what the previous, longer frame left below.
        out.push_str("\x1b[J");
        view.drawn = frame.len();
        write_err(&out);
    }

    fn row(view: &mut View, id: u32) -> Option<&mut Row> {
        view.rows.iter_mut().find(|r| r.step.id == id)
    }
}

/// Cuts `s` to `width` characters.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(width.saturating_sub(3)).collect();
    cut.push_str("...");
    cut
}

impl View {
    /// The lines of one frame. The last frame leaves out output tails of finished steps, as BuildKit does.
    fn frame(&self, elapsed: Duration, width: usize, last: bool) -> Vec<String> {
        let finished = self.rows.iter().filter(|r| !matches!(r.status, Status::Running(_))).count();
        let verb = if last { "Finished" } else { "Building" };
        let mut lines = vec![fit(
            &format!(
                "[+] {verb} {:.1}s ({finished}/{})",
                elapsed.as_secs_f64(),
                self.total.max(self.rows.len())
            ),
            width,
        )];
        for row in &self.rows {
            let (prefix, time) = match row.status {
                Status::Running(t) => ("", Some(t.elapsed())),
                Status::Cached => ("CACHED ", None),
                Status::Done(d) => ("", Some(d)),
                Status::Failed(d) => ("ERROR ", Some(d)),
            };
            let time = time.map_or(String::new(), |t| format!("{:.1}s", t.as_secs_f64()));
            let name = fit(&format!(" => {prefix}{}", row.step.name), width.saturating_sub(time.len() + 1));
            let pad = width.saturating_sub(name.chars().count() + time.len());
            lines.push(format!("{name}{}{time}", " ".repeat(pad)));
            if let Some(miss) = &row.miss {
                lines.push(fit(&format!(" => => cache miss: {miss}"), width));
            }
            let show_tail = matches!(row.status, Status::Running(_) | Status::Failed(_));
            if show_tail && !(last && matches!(row.status, Status::Running(_))) {
                for line in &row.tail {
                    lines.push(fit(&format!(" => => # {line}"), width));
                }
            }
        }
        for note in &self.notes {
            lines.push(fit(note, width));
        }
        lines
    }
}

impl EventSink for Tty {
    fn emit(&self, event: BuildEvent) {
        let Ok(mut view) = self.view.lock() else { return };
        let view = &mut *view;
        match event {
            BuildEvent::Plan { steps } => view.total = steps.len(),
            BuildEvent::Started { step, .. } => view.rows.push(Row {
                step,
                status: Status::Running(Instant::now()),
                tail: VecDeque::new(),
                miss: None,
            }),
            BuildEvent::Cached { step } => {
                view.rows.push(Row { step, status: Status::Cached, tail: VecDeque::new(), miss: None });
            }
            BuildEvent::CacheMiss { step_id, reasons } => {
                if let Some(row) = Tty::row(view, step_id) {
                    row.miss = Some(sanitize(&reasons.join(", ")));
                }
            }
            BuildEvent::Log { step_id, line } => {
                if let Some(row) = Tty::row(view, step_id) {
                    if row.tail.len() == TAIL_LINES {
                        row.tail.pop_front();
                    }
                    row.tail.push_back(sanitize(&line));
                }
            }
            BuildEvent::Done { step_id, elapsed, cached } => {
                if let Some(row) = Tty::row(view, step_id) {
                    row.status = if cached { Status::Cached } else { Status::Done(elapsed) };
                    row.tail.clear();
                }
            }
            BuildEvent::Failed { step_id, message } => {
                if let Some(row) = Tty::row(view, step_id) {
                    let elapsed = match row.status {
                        Status::Running(t) => t.elapsed(),
                        _ => Duration::ZERO,
                    };
                    row.status = Status::Failed(elapsed);
                    row.tail.push_back(sanitize(&message));
                }
            }
            BuildEvent::Warning { message } => view.notes.push(format!("WARNING: {}", sanitize(&message))),
            BuildEvent::Exporting { what } => view.notes.push(format!(" => {}", sanitize(&what))),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use kiln_build::StepKind;

    use super::*;

    fn step(id: u32, name: &str) -> StepInfo {
        StepInfo {
            id,
            stage_index: 0,
            stage: "build".into(),
            kind: StepKind::Run,
            name: name.into(),
            location: format!("Dockerfile:{id}"),
        }
    }

    #[test]
    fn the_tty_view_shows_started_steps_cached_ones_and_the_running_tail() {
        let tty = Tty::default();
        let steps =
            vec![step(1, "[build 1/3] RUN a"), step(2, "[build 2/3] RUN b"), step(3, "[build 3/3] RUN c")];
        tty.emit(BuildEvent::Plan { steps: steps.clone() });
        tty.emit(BuildEvent::Cached { step: steps[0].clone() });
        tty.emit(BuildEvent::Started { step: steps[1].clone(), at: SystemTime::now() });
        tty.emit(BuildEvent::CacheMiss { step_id: 2, reasons: vec!["file a.c modified".into()] });
        for i in 0..8 {
            tty.emit(BuildEvent::Log { step_id: 2, line: format!("line {i}\u{1b}[2J") });
        }
        let view = tty.view.lock().unwrap();
        let frame = view.frame(Duration::from_millis(1500), 60, false);
        assert_eq!(frame[0], "[+] Building 1.5s (1/3)");
        assert!(frame[1].starts_with(" => CACHED [build 1/3] RUN a"), "{frame:#?}");
        assert!(frame[2].starts_with(" => [build 2/3] RUN b") && frame[2].ends_with('s'), "{frame:#?}");
        assert_eq!(frame[3], " => => cache miss: file a.c modified");
        let tail: Vec<&String> = frame.iter().filter(|l| l.starts_with(" => => # ")).collect();
        assert_eq!(tail.len(), TAIL_LINES, "only the last lines: {frame:#?}");
        assert_eq!(tail[0], " => => # line 2\u{fffd}[2J", "control characters are neutralized");
        assert!(frame.iter().all(|l| l.chars().count() <= 60), "lines fit the width: {frame:#?}");
        assert!(!frame.iter().any(|l| l.contains("RUN c")), "steps not started are not shown");
    }

    #[test]
    fn finished_and_failed_steps_show_their_time_and_error() {
        let tty = Tty::default();
        let steps = vec![step(1, "[build 1/2] RUN ok"), step(2, "[build 2/2] RUN bad")];
        tty.emit(BuildEvent::Plan { steps: steps.clone() });
        tty.emit(BuildEvent::Started { step: steps[0].clone(), at: SystemTime::now() });
        tty.emit(BuildEvent::Log { step_id: 1, line: "noise".into() });
        tty.emit(BuildEvent::Done { step_id: 1, elapsed: Duration::from_millis(2340), cached: false });
        tty.emit(BuildEvent::Started { step: steps[1].clone(), at: SystemTime::now() });
        tty.emit(BuildEvent::Failed { step_id: 2, message: "exit code 2".into() });
        let view = tty.view.lock().unwrap();
        let frame = view.frame(Duration::from_secs(3), 80, true);
        assert_eq!(frame[0], "[+] Finished 3.0s (2/2)");
        assert!(frame[1].starts_with(" => [build 1/2] RUN ok") && frame[1].ends_with("2.3s"), "{frame:#?}");
        assert!(!frame.iter().any(|l| l.contains("noise")), "a finished step's output is gone: {frame:#?}");
        assert!(frame[2].starts_with(" => ERROR [build 2/2] RUN bad"), "{frame:#?}");
        assert_eq!(frame[3], " => => # exit code 2");
    }
}
