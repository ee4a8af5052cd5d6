//! Reports for people: [`text`] for the terminal (the analysis and the diff) and [`html`] for the one-file
//! HTML report. Strings from images (paths, commands) are hostile: [`sanitize`] makes them safe to print.

pub mod html;
pub mod text;

pub use crate::ci::human_bytes;

/// Replaces control characters (escape sequences, newlines, tabs) with visible escapes, so a path or a
/// command from an image cannot drive the terminal or break a table.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "↵".to_owned(),
            '\t' => "\\t".to_owned(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// `text` cut to `max` characters with a trailing `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(sanitize("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(sanitize("two\nlines"), "two↵lines");
        assert_eq!(sanitize("plain/path"), "plain/path");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
