//! `/etc/os-release` and `/usr/lib/os-release` (systemd's format: `KEY=value` lines, values optionally
//! quoted with shell-style escapes).

use crate::model::OsRelease;

/// Parses an os-release file; unknown keys and malformed lines are ignored, as systemd does.
pub(crate) fn parse(bytes: &[u8]) -> OsRelease {
    let text = String::from_utf8_lossy(bytes);
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => os.id = value,
            "VERSION_ID" => os.version_id = Some(value),
            "VERSION_CODENAME" => os.version_codename = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    if os.id.is_empty() {
        // The default the os-release specification gives.
        os.id = "linux".to_owned();
    }
    os
}

/// Removes one level of `"…"` or `'…'` quoting and backslash escapes inside double quotes.
fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if value.len() >= 2 && (bytes[0] == b'"' || bytes[0] == b'\'') && bytes[value.len() - 1] == bytes[0] {
        let inner = &value[1..value.len() - 1];
        if bytes[0] == b'\'' {
            return inner.to_owned();
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        return out;
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_bookworm() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        let os = parse(text.as_bytes());
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(os.pretty_name.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }

    #[test]
    fn escapes_comments_and_id_like() {
        let os =
            parse(b"# comment\nID='rocky'\nID_LIKE=\"rhel centos fedora\"\nPRETTY_NAME=\"a \\\"b\\\"\"\n");
        assert_eq!(os.id, "rocky");
        assert_eq!(os.id_like, ["rhel", "centos", "fedora"]);
        assert_eq!(os.pretty_name.as_deref(), Some("a \"b\""));
    }
}
