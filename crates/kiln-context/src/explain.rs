//! The context explainer: [`Context::ls`] (what a build would send, with sizes per directory) and
//! [`Context::explain`] (whether one path is sent, and which `.dockerignore` line decided), plus
//! [`Context::ignore_warnings`] for exception patterns that can never re-include anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::error::{ContextError, Result};

/// What a build would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The context directory.
    pub root: PathBuf,
    /// The ignore file in effect.
    pub ignore_file: Option<PathBuf>,
    /// Included non-directory entries.
    pub files: u64,
    /// Included directories (the root not counted).
    pub dirs: u64,
    /// Total size of included regular files.
    pub bytes: u64,
    /// Every included directory with the totals below it (recursive), sorted by path; `.` is the root.
    pub directories: Vec<DirUsage>,
    /// Excluded directories that are not even read (no exception can re-include anything below them).
    pub skipped: Vec<String>,
    /// Excluded entries that were read and left out.
    pub excluded: u64,
    /// Warnings about the ignore file.
    pub warnings: Vec<IgnoreWarning>,
}

/// Totals of one directory of a [`Listing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirUsage {
    /// Context-relative path (`.` for the root).
    pub path: String,
    /// Depth below the root (0 for the root).
    pub depth: usize,
    /// Non-directory entries below it (recursive).
    pub files: u64,
    /// Bytes of regular files below it (recursive).
    pub bytes: u64,
}

/// Whether a path is sent and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathExplanation {
    /// The path, relative to the context root and cleaned.
    pub path: String,
    /// Whether it exists in the context directory (whatever `.dockerignore` says).
    pub exists: bool,
    /// Whether a build receives it.
    pub included: bool,
    /// The pattern that decided, when one did (none: included by default).
    pub decided_by: Option<Decision>,
    /// The ignore file in effect.
    pub ignore_file: Option<PathBuf>,
}

/// The `.dockerignore` line that decided about a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// 1-based line in the ignore file.
    pub line: u32,
    /// The line as written.
    pub pattern: String,
    /// Whether it is an exception (`!pattern`).
    pub exception: bool,
    /// What it matched: the path itself or one of its parent directories.
    pub matched: String,
}

/// A finding about the ignore file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreWarning {
    /// The ignore file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong.
    pub message: String,
}

impl Context {
    /// Lists what a build would send, with totals per directory.
    pub fn ls(&self) -> Result<Listing> {
        let walked = self.walker().walk("", None)?;
        let mut usage: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        usage.insert(String::new(), (0, 0));
        let (mut files, mut dirs, mut bytes) = (0, 0, 0);
        for e in &walked.entries {
            if e.is_dir() {
                dirs += 1;
                usage.entry(e.path.clone()).or_default();
                continue;
            }
            files += 1;
            bytes += e.size;
            // Credit every ancestor, the root included.
            let mut dir = e.path.as_str();
            loop {
                dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
                let u = usage.entry(dir.to_owned()).or_default();
                u.0 += 1;
                u.1 += e.size;
                if dir.is_empty() {
                    break;
                }
            }
        }
        let mut directories: Vec<DirUsage> = usage
            .into_iter()
            .map(|(path, (files, bytes))| DirUsage {
                depth: if path.is_empty() { 0 } else { path.split('/').count() },
                path: if path.is_empty() { ".".to_owned() } else { path },
                files,
                bytes,
            })
            .collect();
        directories.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
        Ok(Listing {
            root: self.root().to_owned(),
            ignore_file: self.ignore_file().map(Path::to_owned),
            files,
            dirs,
            bytes,
            directories,
            skipped: walked.skipped,
            excluded: walked.excluded,
            warnings: self.ignore_warnings(),
        })
    }

    /// Whether `path` (relative to the context root; a leading `/` is ignored) is sent, and why.
    pub fn explain(&self, path: &str) -> Result<PathExplanation> {
        let cleaned = kiln_dockerfile::ignore::clean(path.trim_start_matches('/'));
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(ContextError::NotFound { context: self.name().to_owned(), path: path.to_owned() });
        }
        let rel = if cleaned == "." { String::new() } else { cleaned };
        let host = self.root().join(&rel);
        let exists = std::fs::symlink_metadata(&host).is_ok();
        let e = self.ignore().explain(&rel);
        let mut included = !e.excluded;
        // An excluded directory is still sent as the parent of what an exception re-includes.
        if e.excluded
            && exists
            && host.is_dir()
            && !self.ignore().can_skip_dir(&rel)
            && !self.walker().walk(&rel, None)?.entries.is_empty()
        {
            included = true;
        }
        let decided_by = e.pattern.and_then(|i| self.ignore().patterns().get(i)).map(|p| Decision {
            line: p.line,
            pattern: p.original.clone(),
            exception: p.exclusion,
            matched: e.matched_path.clone().unwrap_or_default(),
        });
        Ok(PathExplanation {
            path: if rel.is_empty() { ".".to_owned() } else { rel },
            exists,
            included,
            decided_by,
            ignore_file: self.ignore_file().map(Path::to_owned),
        })
    }

    /// Exception patterns (`!p`) that cannot re-include anything: no earlier pattern excludes what they
    /// match (BuildKit silently ignores them).
    pub fn ignore_warnings(&self) -> Vec<IgnoreWarning> {
        let file = self.ignore_file().map(Path::to_owned).unwrap_or_else(|| PathBuf::from(".dockerignore"));
        self.ignore()
            .useless_exceptions()
            .into_iter()
            .map(|p| IgnoreWarning {
                file: file.clone(),
                line: p.line,
                pattern: p.original.clone(),
                message: format!(
                    "exception {:?} cannot re-include anything: no earlier pattern excludes what it matches",
                    p.original
                ),
            })
            .collect()
    }
}
