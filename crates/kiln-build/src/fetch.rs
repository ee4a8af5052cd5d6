//! ADD of an http(s) URL: the file is downloaded into the build's staging area, named after the URL's last
//! path segment (`__unnamed__` when there is none), mode 0600, modification time from `Last-Modified`
//! (BuildKit's HTTP source). With `--checksum` the content must match or the step fails. The content
//! digest is the cache-key ingredient.

use std::io::Write;
use std::path::PathBuf;

use kiln_oci::{Digest, Sha256Writer};

use crate::error::BuildError;
use crate::stage::Shared;

/// A downloaded URL.
pub(crate) struct Download {
    /// The scratch directory holding it (removed by the caller).
    pub(crate) dir: PathBuf,
    /// The file.
    pub(crate) path: PathBuf,
    /// Its name in the image.
    pub(crate) name: String,
    /// The content digest.
    pub(crate) digest: Digest,
    /// `Last-Modified`, as seconds since the epoch.
    pub(crate) mtime: Option<i64>,
}

/// The file name BuildKit gives a URL's content.
fn file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && !path.ends_with('/') => base.to_owned(),
        _ => "__unnamed__".to_owned(),
    }
}

/// Parses an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
fn http_date(s: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), &format).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// Downloads `url`, checking `checksum` (`sha256:<hex>`) when given.
pub(crate) fn download(sh: &Shared<'_>, url: &str, checksum: Option<&str>) -> Result<Download, BuildError> {
    let fail = |message: String| BuildError::Fetch { url: url.to_owned(), message };
    let dir = sh.scratch_dir("url");
    crate::state::mkdirs(&dir)?;
    let name = file_name(url);
    let path = dir.join(&name);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(600)))
        .http_status_as_error(true)
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let mtime = response.headers().get("last-modified").and_then(|v| v.to_str().ok()).and_then(http_date);
    let file = std::fs::File::create(&path).map_err(BuildError::io("creating", path.clone()))?;
    let mut out = Sha256Writer::new(file);
    let mut body = response.into_body();
    std::io::copy(&mut body.as_reader(), &mut out).map_err(|e| fail(format!("reading the response: {e}")))?;
    let (mut file, digest, _) = out.finish();
    file.flush().map_err(BuildError::io("writing", path.clone()))?;
    if let Some(expected) = checksum.filter(|e| *e != digest.to_string()) {
        return Err(fail(format!("digest mismatch: expected {expected}, got {digest}")));
    }
    Ok(Download { dir, path, name, digest, mtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_buildkit() {
        assert_eq!(file_name("https://example.com/a/b.tar.gz"), "b.tar.gz");
        assert_eq!(file_name("https://example.com/a/b.txt?x=1"), "b.txt");
        assert_eq!(file_name("https://example.com/"), "__unnamed__");
        assert_eq!(file_name("https://example.com"), "__unnamed__");
        assert_eq!(http_date("Wed, 21 Oct 2015 07:28:00 GMT"), Some(1_445_412_480));
    }
}
