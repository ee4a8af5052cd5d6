//! The image config's history, as BuildKit writes it: the `created_by` strings of each instruction
//! (Go's `%q` and `%v` formatting included), the `empty_layer` flags, and the `created` times, filled in
//! the way BuildKit's image exporter fills them (`normalizeLayersAndHistory`) and clamped to
//! `SOURCE_DATE_EPOCH` (`patchImageConfig`).

use std::time::Duration;

use kiln_oci::{History, ImageConfig};

/// Go's `%q` of one string (what `fmt.Sprintf("%q", s)` prints for printable and common cases).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub(crate) fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%v` of a `[]string`: `[a b]`.
pub(crate) fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `300ms`, `0s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(nanos, div));
    }
    let mut out = String::new();
    let total_secs = nanos / 1_000_000_000;
    let (h, m) = (total_secs / 3600, (total_secs / 60) % 60);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    let secs_nanos = nanos % 60_000_000_000;
    out.push_str(&format!("{}s", trim_fraction(secs_nanos, 1_000_000_000)));
    out
}

/// `n / div` with the fraction's trailing zeros removed (`1500, 1000` → `1.5`).
fn trim_fraction(n: u128, div: u128) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// `SOURCE_DATE_EPOCH` or now, as an RFC 3339 time (UTC; nanoseconds only when not zero, as Go writes).
pub(crate) fn rfc3339(unix_nanos: i128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(unix_nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Now, in nanoseconds since the epoch.
pub(crate) fn now_nanos() -> i128 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos()
}

/// Parses an RFC 3339 time to nanoseconds since the epoch.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i128> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

/// Appends a history entry (BuildKit's `commitToHistory`): `# buildkit` is added for instructions that
/// produce a layer through a build op (RUN, COPY, ADD); `created` is the epoch when one is set, else
/// filled later by [`finalize`].
pub(crate) fn commit(
    config: &mut ImageConfig,
    message: String,
    with_layer: bool,
    op: bool,
    epoch: Option<&str>,
) {
    let created_by = if op { format!("{message} # buildkit") } else { message };
    config.history.push(History {
        created: epoch.map(str::to_owned),
        created_by: Some(created_by),
        author: None,
        comment: None,
        empty_layer: !with_layer,
    });
}

/// Completes the history and `created` of a finished image the way BuildKit's exporter does:
/// - a layer entry without a time gets its layer's creation time (`layer_times`, by layer index);
/// - the other entries without a time get the first new layer's time, or the previous entry's;
/// - with an epoch, every entry after the base image's (`base`) that is later than the epoch is clamped;
/// - `created` is the last entry's time (clamped to the epoch).
pub(crate) fn finalize(
    config: &mut ImageConfig,
    layer_times: &[Option<String>],
    base: &[History],
    epoch: Option<&str>,
) {
    let history = &mut config.history;
    let mut layer = 0;
    for h in history.iter_mut() {
        if !h.empty_layer {
            if h.created.is_none() {
                h.created = layer_times.get(layer).cloned().flatten();
            }
            layer += 1;
        }
    }
    let mut created: Option<String> = None;
    let mut gap = false;
    for h in history.iter() {
        match &h.created {
            Some(t) => {
                created = Some(t.clone());
                if gap {
                    break;
                }
            }
            None => gap = true,
        }
    }
    let mut gap = false;
    for h in history.iter_mut() {
        match &h.created {
            Some(t) => {
                if gap {
                    created = Some(t.clone());
                }
            }
            None => {
                gap = true;
                h.created = created.clone();
            }
        }
    }
    if let Some(epoch) = epoch {
        let e = parse_rfc3339(epoch);
        let mut diverged = false;
        for (i, h) in history.iter_mut().enumerate() {
            if !diverged && i < base.len() && *h == base[i] {
                continue;
            }
            diverged = true;
            let later = match (h.created.as_deref().and_then(parse_rfc3339), e) {
                (Some(t), Some(e)) => t > e,
                _ => true,
            };
            if later {
                h.created = Some(epoch.to_owned());
            }
        }
    }
    let last = config.history.iter().rev().find_map(|h| h.created.clone());
    config.created = match (last, epoch) {
        (Some(t), Some(e)) => match (parse_rfc3339(&t), parse_rfc3339(e)) {
            (Some(a), Some(b)) if a > b => Some(e.to_owned()),
            _ => Some(t),
        },
        (Some(t), None) => Some(t),
        (None, e) => e.map(str::to_owned),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formatting() {
        assert_eq!(go_quote("a \"b\"\n"), r#""a \"b\"\n""#);
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "echo hi".into()]),
            r#"["/bin/sh" "-c" "echo hi"]"#
        );
        assert_eq!(go_list(&["/data".into(), "/logs".into()]), "[/data /logs]");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn times_are_filled_like_buildkit() {
        let mut c = ImageConfig::default();
        let base = vec![History { created: Some("2020-01-01T00:00:00Z".into()), ..History::default() }];
        c.history = base.clone();
        commit(&mut c, "ENV A=1".into(), false, false, None);
        commit(&mut c, "RUN x".into(), true, true, None);
        commit(&mut c, "CMD [\"x\"]".into(), false, false, None);
        finalize(
            &mut c,
            &[Some("2020-01-01T00:00:00Z".into()), Some("2024-05-05T00:00:00Z".into())],
            &base,
            None,
        );
        let times: Vec<_> = c.history.iter().map(|h| h.created.clone().unwrap()).collect();
        assert_eq!(times[1], "2024-05-05T00:00:00Z", "metadata before the first new layer gets its time");
        assert_eq!(times[3], "2024-05-05T00:00:00Z");
        assert_eq!(c.created.as_deref(), Some("2024-05-05T00:00:00Z"));
        assert_eq!(c.history[2].created_by.as_deref(), Some("RUN x # buildkit"));
    }

    #[test]
    fn epoch_clamps_new_entries_only() {
        let mut c = ImageConfig::default();
        let base = vec![History { created: Some("2030-01-01T00:00:00Z".into()), ..History::default() }];
        c.history = base.clone();
        commit(&mut c, "RUN x".into(), true, true, Some("2000-01-01T00:00:00Z"));
        finalize(&mut c, &[None, Some("2024-01-01T00:00:00Z".into())], &base, Some("2000-01-01T00:00:00Z"));
        assert_eq!(c.history[0].created.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert_eq!(c.history[1].created.as_deref(), Some("2000-01-01T00:00:00Z"));
        assert_eq!(c.created.as_deref(), Some("2000-01-01T00:00:00Z"));
    }
}
