//! COPY/ADD source selection with BuildKit's semantics: [`Context::select`] turns one (expanded) source path
//! and its flags ([`SourceSpec`]) into a [`Selection`]: the matched paths and, for each, the entries a copy
//! writes.
//!
//! The rules (BuildKit's `dispatchCopy` + fsutil's `copy` + contenthash):
//! - The path is cleaned against `/`: a leading `/` and any `../` that climbs above the context are dropped
//!   (`COPY ../x /` reads `x`; [`Selection::escapes_context`] says it happened). A trailing `/` is ignored.
//! - Wildcards use Go's `filepath.Match` (`*`, `?`, `[...]`, `\`), per path component, and may sit in any
//!   component (`src/*/main.go`); a wildcard that matches nothing selects nothing (not an error).
//! - A path without wildcards must exist in the context as transferred (after `.dockerignore`), else
//!   [`ContextError::NotFound`].
//! - A matched symlink is followed (inside the context), and so are symlinks in its parents; symlinks
//!   *inside* a copied directory are copied as symlinks.
//! - A directory copies its contents (the directory's own metadata applies to the destination directory).
//! - `--exclude` patterns (moby patternmatcher syntax) apply to paths relative to each match.
//! - `--parents` keeps each match's path: the source is split at `/./` (default: at the context root) and
//!   the part after it becomes an include pattern (`**` allowed) relative to the part before it; a path
//!   without wildcards must then still select something.

use std::path::Path;

use kiln_dockerfile::ignore::{DockerIgnore, clean};
use serde::Serialize;

use crate::context::Context;
use crate::error::{ContextError, Result, io_err};
use crate::glob::{contains_wildcards, go_match, split_wildcards};
use crate::walk::Entry;

/// One COPY/ADD source read from a context, after variable expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSpec {
    /// The source path as written (`src/*.go`, `./x/./y`, `/abs`, `.`).
    pub path: String,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
}

impl SourceSpec {
    /// A plain source path (no flags).
    pub fn new(path: impl Into<String>) -> Self {
        SourceSpec { path: path.into(), ..SourceSpec::default() }
    }
}

/// What one source selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// The source as written.
    pub source: String,
    /// Whether cleaning the path dropped `..` components that climbed above the context (BuildKit does
    /// this silently; a caller may warn).
    pub escapes_context: bool,
    /// The matches in order (one for a path without wildcards).
    pub matches: Vec<Match>,
}

/// One matched path and what copying it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The matched path relative to the context root, as matched (`""` is the root). For `--parents`, the
    /// directory the kept paths are relative to.
    pub path: String,
    /// The path actually read, after following symlinks.
    pub resolved: String,
    /// The entries to copy: first the match itself (`rel == ""`), then, for a directory, everything below
    /// it that the filters keep (directories before their contents; a directory whose own path is filtered
    /// out stays when something below it is kept).
    pub entries: Vec<SelectedEntry>,
}

impl Match {
    /// Whether the match is a directory (its contents are copied, not the directory itself).
    pub fn is_dir(&self) -> bool {
        self.entries.first().is_some_and(|e| e.entry.is_dir())
    }
}

/// One entry of a [`Match`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectedEntry {
    /// The path relative to the match (`""` for the match itself): where it lands under the destination.
    pub rel: String,
    /// The context entry (its `path` is relative to the context root).
    pub entry: Entry,
}

impl Context {
    /// Selects what `spec` names in this context (see the module docs for the rules).
    pub fn select(&self, spec: &SourceSpec) -> Result<Selection> {
        let (src, include, required) = if spec.parents {
            match spec.path.split_once("/./") {
                Some((parent, pattern)) => (parent.to_owned(), Some(normalize(pattern).0), None),
                None => ("/".to_owned(), Some(normalize(&spec.path).0), None),
            }
        } else {
            (spec.path.clone(), None, None::<String>)
        };
        let (rel, escapes_context) = normalize(&src);
        let required = required.or_else(|| {
            let p = include.as_ref()?;
            (!contains_wildcards(&rel) && !contains_wildcards(p)).then(|| join(&rel, p))
        });
        let include = include.map(|p| DockerIgnore::from_patterns(&[p])).transpose()?;
        let exclude = DockerIgnore::from_patterns(&spec.excludes)?;
        let filters = Filters { include: include.as_ref(), exclude: &exclude };

        let mut matches = Vec::new();
        for (path, resolved) in self.match_paths(&rel)? {
            matches.push(self.match_entries(path, resolved, &filters)?);
        }
        if let Some(req) = required {
            let found = matches.iter().flat_map(|m| &m.entries).any(|e| {
                let p = e.entry.path.as_str();
                p == req || p.starts_with(&format!("{req}/")) || req.is_empty()
            });
            if !found {
                return Err(self.not_found(&req));
            }
        }
        Ok(Selection { source: spec.path.clone(), escapes_context, matches })
    }

    fn not_found(&self, rel: &str) -> ContextError {
        ContextError::NotFound { context: self.name().to_owned(), path: format!("/{rel}") }
    }

    /// The paths `rel` names, each with the path it resolves to.
    fn match_paths(&self, rel: &str) -> Result<Vec<(String, String)>> {
        if !contains_wildcards(rel) {
            let resolved = self.resolve(rel)?.ok_or_else(|| self.not_found(rel))?;
            return Ok(vec![(rel.to_owned(), resolved)]);
        }
        let (literal, pattern) = split_wildcards(rel);
        let base = self.resolve(&literal)?.ok_or_else(|| self.not_found(&literal))?;
        if !std::fs::symlink_metadata(self.host(&base)).is_ok_and(|m| m.is_dir()) {
            return Ok(Vec::new());
        }
        // `*` and `?` never match `/`, so a match has as many components as the pattern.
        let depth = pattern.split('/').count();
        let walked = self.walker().walk(&base, Some(depth))?;
        let mut out = Vec::new();
        for entry in walked.entries {
            let below = strip_dir(&entry.path, &base);
            if below.split('/').count() != depth || !go_match(&pattern, below) {
                continue;
            }
            let as_written = join(&literal, below);
            match self.resolve(&entry.path)? {
                Some(resolved) => out.push((as_written, resolved)),
                None => return Err(self.not_found(&as_written)),
            }
        }
        Ok(out)
    }

    /// Follows symlinks in `rel` (the last one too) inside the context; `None` when the result does not
    /// exist in the context as transferred (missing, or excluded by `.dockerignore`).
    fn resolve(&self, rel: &str) -> Result<Option<String>> {
        // The path as written must be there too: an excluded symlink is not transferred, even when what it
        // points to is.
        let unresolved = kiln_fs::resolve_in_root(self.root(), Path::new(rel), false)?;
        if !self.present(&unresolved)? {
            return Ok(None);
        }
        let host = kiln_fs::resolve_in_root(self.root(), Path::new(rel), true)?;
        if host == unresolved || self.present(&host)? {
            return Ok(Some(self.relative(&host)?));
        }
        Ok(None)
    }

    /// Whether host path `host` (inside the root) exists in the context as transferred.
    fn present(&self, host: &Path) -> Result<bool> {
        let Ok(meta) = std::fs::symlink_metadata(host) else { return Ok(false) };
        let rel = self.relative(host)?;
        if rel.is_empty() || !self.ignore().matches(&rel) {
            return Ok(true);
        }
        // An excluded directory is still there as the parent of something an exception re-includes.
        Ok(meta.is_dir()
            && !self.ignore().can_skip_dir(&rel)
            && !self.walker().walk(&rel, None)?.entries.is_empty())
    }

    fn relative(&self, host: &Path) -> Result<String> {
        let rel = host.strip_prefix(self.root()).unwrap_or(Path::new(""));
        rel.to_str().map(str::to_owned).ok_or_else(|| ContextError::NonUtf8Path(host.to_owned()))
    }

    fn host(&self, rel: &str) -> std::path::PathBuf {
        self.root().join(rel)
    }

    /// The entries copying `resolved` writes, filtered.
    fn match_entries(&self, path: String, resolved: String, filters: &Filters<'_>) -> Result<Match> {
        let host = self.host(&resolved);
        let meta = std::fs::symlink_metadata(&host).map_err(io_err(&host))?;
        let top = Entry::from_metadata(resolved.clone(), &meta, &host, self.keeps_owners())?
            .ok_or_else(|| self.not_found(&path))?;
        let mut entries = vec![SelectedEntry { rel: String::new(), entry: top }];
        if meta.is_dir() {
            let below = self.walker().walk(&resolved, None)?.entries;
            entries.extend(filters.apply(below, &resolved));
        }
        Ok(Match { path, resolved, entries })
    }
}

/// `--parents` include pattern and `--exclude` patterns, relative to a match.
struct Filters<'a> {
    include: Option<&'a DockerIgnore>,
    exclude: &'a DockerIgnore,
}

impl Filters<'_> {
    /// Keeps the entries below `dir` that pass, plus the directories above a kept entry.
    fn apply(&self, entries: Vec<Entry>, dir: &str) -> Vec<SelectedEntry> {
        let keep: Vec<bool> = entries
            .iter()
            .map(|e| {
                let rel = strip_dir(&e.path, dir);
                self.include.is_none_or(|i| i.matches(rel))
                    && (self.exclude.is_empty() || !self.exclude.matches(rel))
            })
            .collect();
        if self.include.is_none() && self.exclude.is_empty() {
            return entries
                .into_iter()
                .map(|e| SelectedEntry { rel: strip_dir(&e.path, dir).to_owned(), entry: e })
                .collect();
        }
        // Entries are sorted parents first: walk backwards so a kept entry marks its parent directories.
        let mut needed = keep;
        let mut kept_dirs: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (i, e) in entries.iter().enumerate().rev() {
            if e.is_dir() && kept_dirs.contains(&e.path) {
                needed[i] = true;
            }
            if needed[i]
                && let Some((parent, _)) = e.path.rsplit_once('/')
            {
                kept_dirs.insert(parent.to_owned());
            }
        }
        entries
            .into_iter()
            .zip(needed)
            .filter(|(_, n)| *n)
            .map(|(e, _)| SelectedEntry { rel: strip_dir(&e.path, dir).to_owned(), entry: e })
            .collect()
    }
}

/// Cleans a source path against `/` (BuildKit's `NormalizePath("/", src)`), returning it relative to the
/// context root, and whether `..` climbed above the root.
fn normalize(src: &str) -> (String, bool) {
    let escapes = clean(src).split('/').next() == Some("..");
    let rooted = clean(&format!("/{src}"));
    (rooted.trim_start_matches('/').to_owned(), escapes)
}

fn join(dir: &str, rel: &str) -> String {
    match (dir.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{rel}"),
    }
}

/// `path` relative to directory `dir` (both context-relative).
fn strip_dir<'p>(path: &'p str, dir: &str) -> &'p str {
    if dir.is_empty() {
        return path;
    }
    path.strip_prefix(dir).and_then(|p| p.strip_prefix('/')).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_like_buildkit() {
        assert_eq!(normalize("src/"), ("src".to_owned(), false));
        assert_eq!(normalize("/abs/x"), ("abs/x".to_owned(), false));
        assert_eq!(normalize("./a/../b"), ("b".to_owned(), false));
        assert_eq!(normalize("."), (String::new(), false));
        assert_eq!(normalize("../x"), ("x".to_owned(), true));
        assert_eq!(normalize("a/../../x"), ("x".to_owned(), true));
    }
}
