//! The `from=` of a `RUN --mount` value before expansion ([`mount_from`]).
//!
//! BuildKit builds its stage graph from the unexpanded mount values (`from=` does not support variables,
//! other options do and are expanded at dispatch). kiln-dockerfile parses a mount fully only after
//! expansion, and its unexpanded parse fails on any option holding a variable (`uid=$UID`), so this reads
//! the fields the graph needs from the CSV record itself (kiln-dockerfile has already checked that the
//! record splits and that `from=` holds no variable).

/// The value of the last `from=` field (key matched case-insensitively) of a `--mount` value, if any.
pub(crate) fn mount_from(spec: &str) -> Option<String> {
    mount_field(spec, &["from"])
}

/// The unexpanded `target=` (or `dst=`, `destination=`) of a `--mount` value, if any (for messages).
pub(crate) fn mount_target(spec: &str) -> Option<String> {
    mount_field(spec, &["target", "dst", "destination"])
}

/// The value of the last field whose key is one of `keys` (case-insensitive).
fn mount_field(spec: &str, keys: &[&str]) -> Option<String> {
    let mut value = None;
    for field in csv_fields(spec) {
        if let Some((k, v)) = field.split_once('=')
            && keys.iter().any(|key| k.eq_ignore_ascii_case(key))
        {
            value = Some(v.to_owned());
        }
    }
    value
}

/// Splits one CSV record on `,`, with `"`-quoted fields (`""` inside quotes is a quote), as go-csvvalue does
/// for a record it accepts.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                out.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_from_in_plain_and_quoted_fields() {
        assert_eq!(mount_from("type=cache,from=builder,uid=$UID").as_deref(), Some("builder"));
        assert_eq!(mount_from("FROM=Build,target=/x").as_deref(), Some("Build"));
        assert_eq!(mount_from("\"from=a,b\",target=/x").as_deref(), Some("a,b"));
        assert_eq!(mount_from("from=a,from=b").as_deref(), Some("b"));
        assert_eq!(mount_from("type=bind,target=/src"), None);
        assert_eq!(mount_target("type=bind,DST=/src,from=x").as_deref(), Some("/src"));
        assert_eq!(csv_fields("\"a\"\"b\",c"), ["a\"b", "c"]);
    }
}
