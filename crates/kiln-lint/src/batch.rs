//! Linting many files at once: [`discover`] finds Dockerfiles under the given paths (`Dockerfile`,
//! `Dockerfile.*`, `*.Dockerfile`, `*.dockerfile`, recursively), [`lint_files`] lints them on all cores,
//! and [`resolve_config`] assembles a [`Config`] the way hadolint does (environment, then the config file,
//! then the command line).

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::context::{BuildContext, ContextError};
use crate::{Report, lint};

/// A file that cannot be linted.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A path does not exist or cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A Dockerfile is not UTF-8.
    #[error("{path}: not a UTF-8 text file")]
    NotText {
        /// The path.
        path: PathBuf,
    },
    /// The build context's ignore file is invalid.
    #[error(transparent)]
    Context(#[from] ContextError),
}

/// Whether a file name is a Dockerfile's.
pub fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.") && !name.ends_with(".dockerignore")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
}

/// Expands directories in `paths` into the Dockerfiles below them (sorted; hidden directories,
/// `node_modules` and `target` skipped). Files are kept as given, whatever their name.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, BatchError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs_err::metadata(p).map_err(|e| BatchError::Read { path: p.clone(), source: e })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BatchError> {
    let read = |e| BatchError::Read { path: dir.to_owned(), source: e };
    let mut entries: Vec<_> = fs_err::read_dir(dir).map_err(read)?.collect::<Result<_, _>>().map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type().map_err(read)?;
        let path = e.path();
        if ty.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "target" {
                walk(&path, out)?;
            }
        } else if (ty.is_file() || ty.is_symlink() && path.is_file()) && is_dockerfile_name(&name) {
            out.push(path);
        }
    }
    Ok(())
}

/// Where rules that look at the build context find it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ContextMode {
    /// No context: context-aware rules are off.
    #[default]
    None,
    /// The directory of each Dockerfile (what `docker build -f dir/Dockerfile dir` uses).
    DockerfileDir,
    /// One directory for every file.
    Dir(PathBuf),
}

/// Reads and lints `files` on all cores (order kept). `stdin` is linted first, as `-`, when given.
pub fn lint_files(
    files: &[PathBuf],
    stdin: Option<String>,
    config: &Config,
    context: &ContextMode,
) -> Vec<Result<Report, BatchError>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads =
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Report, BatchError>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(n) else { break };
                    let r = lint_one(path, config, context);
                    if let Ok(mut slot) = slots[n].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let mut out: Vec<Result<Report, BatchError>> = Vec::with_capacity(files.len() + 1);
    if let Some(text) = stdin {
        let mut cfg = config.clone();
        if let ContextMode::Dir(d) = context {
            cfg.context = BuildContext::read(d, None).ok();
        }
        out.push(Ok(lint("-", &text, &cfg)));
    }
    for (slot, path) in slots.into_iter().zip(files) {
        let r = slot.into_inner().ok().flatten();
        out.push(r.unwrap_or_else(|| {
            Err(BatchError::Read { path: path.clone(), source: std::io::Error::other("not linted") })
        }));
    }
    out
}

fn lint_one(path: &Path, config: &Config, context: &ContextMode) -> Result<Report, BatchError> {
    let bytes = fs_err::read(path).map_err(|e| BatchError::Read { path: path.to_owned(), source: e })?;
    let text = String::from_utf8(bytes).map_err(|_| BatchError::NotText { path: path.to_owned() })?;
    let name = path.display().to_string();
    match context_of(path, context)? {
        None => Ok(lint(&name, &text, config)),
        Some(ctx) => {
            let mut cfg = config.clone();
            cfg.context = Some(ctx);
            Ok(lint(&name, &text, &cfg))
        }
    }
}

/// hadolint's configuration order: `HADOLINT_*` variables, then the config file (`explicit`, else the
/// first of hadolint's search locations from `cwd`), then `cli` (lists add up, switches override).
pub fn resolve_config(
    explicit: Option<&Path>,
    search: bool,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    cli: Config,
) -> Result<(Config, Option<PathBuf>), ConfigError> {
    let from_env = Config::from_env(env);
    let path = match explicit {
        Some(p) => Some(p.to_owned()),
        None if search => Config::find(cwd, env),
        None => None,
    };
    let from_file = match &path {
        Some(p) => Config::read(p)?,
        None => Config::default(),
    };
    Ok((from_env.merge(from_file).merge(cli), path))
}

/// What to do with safe fixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FixMode {
    /// Only report.
    #[default]
    Report,
    /// Rewrite the files (atomically) and report what is left.
    Write,
    /// Show the fixes as a unified diff, change nothing.
    Diff,
}

/// A `kiln lint` run: which files, which context, what to do with fixes.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Files and directories (directories are searched for Dockerfiles).
    pub paths: Vec<PathBuf>,
    /// Standard input's text, linted as `-`.
    pub stdin: Option<String>,
    /// Where context-aware rules find the build context.
    pub context: ContextMode,
    /// What to do with fixes.
    pub fix: FixMode,
    /// Only fix these rules (all fixable rules when `None`).
    pub fix_only: Option<std::collections::BTreeSet<String>>,
    /// Only report findings at this level or more serious.
    pub min_level: Option<crate::Level>,
}

/// The outcome of a [`Run`].
#[derive(Debug, Default)]
pub struct RunResult {
    /// One report per linted input (after fixing, in `Write` mode).
    pub reports: Vec<Report>,
    /// Inputs that could not be linted.
    pub errors: Vec<BatchError>,
    /// The unified diff of all fixes (`Diff` mode).
    pub diff: String,
    /// Files rewritten and the rules fixed in each (`Write` mode).
    pub fixed: Vec<(PathBuf, Vec<&'static str>)>,
}

impl Run {
    /// Lints (and fixes) every input.
    pub fn execute(&self, config: &Config) -> Result<RunResult, BatchError> {
        let files = discover(&self.paths)?;
        let mut out = RunResult::default();
        let results = lint_files(&files, self.stdin.clone(), config, &self.context);
        let names: Vec<Option<PathBuf>> =
            self.stdin.iter().map(|_| None).chain(files.iter().cloned().map(Some)).collect();
        for (r, path) in results.into_iter().zip(names) {
            let mut report = match r {
                Ok(rep) => rep,
                Err(e) => {
                    out.errors.push(e);
                    continue;
                }
            };
            if self.fix != FixMode::Report {
                let mut cfg = config.clone();
                if let Some(p) = &path {
                    cfg.context = context_of(p, &self.context)?;
                }
                let fixed =
                    crate::fix::fix_source(&report.file, &report.source, &cfg, self.fix_only.as_ref());
                if fixed.source != report.source {
                    match self.fix {
                        FixMode::Diff => out.diff.push_str(&crate::fix::unified_diff(
                            &report.file,
                            &report.source,
                            &fixed.source,
                        )),
                        FixMode::Write => {
                            if let Some(p) = &path {
                                write_atomic(p, &fixed.source)?;
                                out.fixed.push((p.clone(), fixed.rules.clone()));
                                report = lint(&report.file, &fixed.source, &cfg);
                            }
                        }
                        FixMode::Report => {}
                    }
                }
            }
            if let Some(min) = self.min_level {
                report.findings.retain(|f| f.level <= min);
            }
            out.reports.push(report);
        }
        Ok(out)
    }
}

fn context_of(path: &Path, mode: &ContextMode) -> Result<Option<BuildContext>, BatchError> {
    Ok(match mode {
        ContextMode::None => None,
        ContextMode::Dir(d) => Some(BuildContext::read(d, Some(path))?),
        ContextMode::DockerfileDir => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_owned);
            Some(BuildContext::read(&dir, Some(path))?)
        }
    })
}

/// Replaces `path` with `text`: a temporary file beside it, flushed, then renamed over it (the file's
/// permissions are kept).
fn write_atomic(path: &Path, text: &str) -> Result<(), BatchError> {
    use std::io::Write as _;
    let err = |e| BatchError::Read { path: path.to_owned(), source: e };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.kiln-fix.{}", std::process::id()));
    let perms = fs_err::metadata(path).map_err(err)?.permissions();
    let result = (|| {
        let mut f = fs_err::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs_err::set_permissions(&tmp, perms)?;
        fs_err::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for n in ["Dockerfile", "Dockerfile.prod", "api.Dockerfile", "x.dockerfile", "Containerfile"] {
            assert!(is_dockerfile_name(n), "{n}");
        }
        for n in ["Dockerfile.dockerignore", "README.md", "dockerfile.txt", "Makefile"] {
            assert!(!is_dockerfile_name(n), "{n}");
        }
    }
}
