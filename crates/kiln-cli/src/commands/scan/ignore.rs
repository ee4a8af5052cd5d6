//! The ignore file of `kiln scan --ignore-file`: YAML, one entry per accepted finding, each with the
//! reason it is accepted and an optional expiry date, after which it no longer applies.
//!
//! ```yaml
//! ignores:
//!   - id: CVE-2023-5363          # vulnerability ID or alias, secret rule or fingerprint, check ID
//!     package: openssl           # optional: only this package (name or source package)
//!     path: /app/.env            # optional: only secrets at this path
//!     reason: not reachable: TLS is terminated by the proxy
//!     expires: 2026-12-31        # optional
//! ```

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ignore {
    /// What it matches.
    pub(crate) id: String,
    /// Only this package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) package: Option<String>,
    /// Only this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    /// Why.
    pub(crate) reason: String,
    /// Last day it applies (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignores: Vec<Ignore>,
}

impl Ignore {
    /// The expiry date (checked by [`load`]).
    pub(crate) fn expiry(&self) -> Option<time::Date> {
        self.expires.as_deref().and_then(|e| parse_date(e).ok())
    }
}

fn parse_date(text: &str) -> Result<time::Date, time::error::Parse> {
    time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
}

/// Reads and checks an ignore file: every entry needs an `id` and a non-empty `reason`, and `expires`
/// must be a date; errors name the file and the entry.
pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<Ignore>> {
    let text = fs_err::read_to_string(path)?;
    let file: File = serde_norway::from_str(&text).with_context(|| format!("{}", path.display()))?;
    for (i, ig) in file.ignores.iter().enumerate() {
        let at = || format!("{}: ignores[{i}] ({})", path.display(), ig.id);
        if ig.id.trim().is_empty() {
            bail!("{}: an empty id", at());
        }
        if ig.reason.trim().is_empty() {
            bail!("{}: every ignore needs a reason", at());
        }
        if let Some(e) = &ig.expires {
            parse_date(e).with_context(|| format!("{}: expires {e:?} is not a YYYY-MM-DD date", at()))?;
        }
    }
    Ok(file.ignores)
}
