//! `RUN --mount` and `RUN --device` values ([`Mount`], [`Device`]): BuildKit's `parseMount` and
//! `ParseDevice`, with their CSV field splitting (`go-csvvalue`), defaults and messages.

use std::borrow::Cow;

use serde::Serialize;

use crate::flags::suggest;
use crate::shell::ShellError;

/// The kind of a `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// `type=bind` (the default): a read-only view of a stage, image or the context.
    Bind,
    /// `type=cache`: a persistent cache directory.
    Cache,
    /// `type=tmpfs`.
    Tmpfs,
    /// `type=secret`: a secret file or environment variable.
    Secret,
    /// `type=ssh`: an SSH agent socket.
    Ssh,
}

impl MountType {
    /// The name as written in `type=`.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// The `sharing=` mode of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Concurrent writers share the directory.
    Shared,
    /// Each writer gets its own directory.
    Private,
    /// Writers wait for each other.
    Locked,
}

/// A parsed `RUN --mount`, with BuildKit's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// `type=`.
    #[serde(rename = "type")]
    pub kind: MountType,
    /// `from=`: a stage name or index, or an image.
    pub from: String,
    /// `source=` / `src=`.
    pub source: String,
    /// `target=` / `dst=` / `destination=`.
    pub target: String,
    /// `ro`/`readonly`/`rw`/`readwrite`; defaults to read-only except for cache and tmpfs mounts.
    pub read_only: bool,
    /// `size=` of a tmpfs, in bytes (0 = unlimited).
    pub size_limit: i64,
    /// `id=`.
    pub id: String,
    /// `sharing=` of a cache mount (`None` = BuildKit's default, shared).
    pub sharing: Option<Sharing>,
    /// `required` of a secret or ssh mount.
    pub required: bool,
    /// `env=` of a secret mount.
    pub env: Option<String>,
    /// `mode=` (octal).
    pub mode: Option<u64>,
    /// `uid=`.
    pub uid: Option<u64>,
    /// `gid=`.
    pub gid: Option<u64>,
}

/// A parsed `RUN --device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The CDI device name.
    pub name: String,
    /// Whether the build fails when the device is missing.
    pub required: bool,
}

/// Why a `--mount` or `--device` value is invalid (BuildKit's message, plus a suggestion).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MountError {
    /// The message.
    pub message: String,
    /// "did you mean X?" when BuildKit would suggest something.
    pub help: Option<String>,
}

impl MountError {
    fn new(message: impl Into<String>) -> Self {
        MountError { message: message.into(), help: None }
    }

    fn suggest(message: String, value: &str, options: &[&str]) -> Self {
        MountError { message, help: suggest(value, options, true).map(|m| format!("did you mean {m}?")) }
    }
}

impl From<ShellError> for MountError {
    fn from(e: ShellError) -> Self {
        MountError::new(e.to_string())
    }
}

/// `go-csvvalue`'s `Fields`: one CSV record with `"` quoting.
fn csv_fields(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let line = line.strip_suffix("\r\n").or_else(|| line.strip_suffix('\n')).unwrap_or(line);
    if line.is_empty() {
        return Err("EOF".into());
    }
    let err = |pos: usize, what: &str| format!("parse error on line 1, column {}: {what}", pos + 1);
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    let mut out: Vec<Cow<'_, str>> = Vec::new();
    let mut rest = line;
    let mut pos = 0;
    loop {
        if !rest.starts_with('"') {
            let (field, more) = match rest.find(',') {
                Some(i) => (&rest[..i], Some(i)),
                None => (rest, None),
            };
            if let Some(j) = field.find('"') {
                return Err(err(pos + j, BARE));
            }
            out.push(Cow::Borrowed(field));
            match more {
                Some(i) => {
                    rest = &rest[i + 1..];
                    pos += i + 1;
                    continue;
                }
                None => return Ok(out),
            }
        }
        rest = &rest[1..];
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(i) = rest.find('"') else { return Err(err(pos, QUOTE)) };
            field.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            pos += i + 1;
            if rest.starts_with('"') {
                field.push('"');
                rest = &rest[1..];
                pos += 1;
            } else if rest.starts_with(',') {
                out.push(Cow::Owned(field));
                rest = &rest[1..];
                pos += 1;
                break;
            } else if rest.is_empty() {
                out.push(Cow::Owned(field));
                return Ok(out);
            } else {
                return Err(err(pos - 1, QUOTE));
            }
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// go-units `RAMInBytes`: `\d+(\.\d+)*`, an optional space, then `[kmgtp]?i?b?` in any case; binary multiples.
fn ram_in_bytes(s: &str) -> Option<i64> {
    let num_len = s.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (num, unit) = s.split_at(num_len);
    if num.split('.').any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    // Truncation toward zero is go-units' int64(size * multiplier).
    #[allow(clippy::cast_possible_truncation)]
    Some((n * mult) as i64)
}

const MOUNT_KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// The checks BuildKit makes on a `--mount` value when it parses the instruction (before expansion):
/// the CSV must split and `from=` must not use a variable.
pub(crate) fn check_mount_unexpanded(val: &str) -> Result<(), MountError> {
    let fields = csv_fields(val).map_err(|e| MountError::new(format!("failed to parse csv mounts: {e}")))?;
    for field in fields {
        if let Some((key, value)) = field.split_once('=')
            && key.eq_ignore_ascii_case("from")
            && value.find('$').is_some_and(|i| i != value.len() - 1)
        {
            return Err(MountError::new(format!(
                "'{}' doesn't support variable expansion, define alias stage instead",
                key.to_lowercase()
            )));
        }
    }
    Ok(())
}

impl Mount {
    /// BuildKit's `parseMount` with an expander: every `key=value` value goes through `expand` first.
    /// Use `|v| Ok(v.to_owned())` for a value without variables.
    pub fn parse(
        val: &str,
        expand: &mut dyn FnMut(&str) -> Result<String, ShellError>,
    ) -> Result<Mount, MountError> {
        let fields =
            csv_fields(val).map_err(|e| MountError::new(format!("failed to parse csv mounts: {e}")))?;
        let mut m = Mount {
            kind: MountType::Bind,
            from: String::new(),
            source: String::new(),
            target: String::new(),
            read_only: false,
            size_limit: 0,
            id: String::new(),
            sharing: None,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        };
        let mut ro_auto = true;
        let invalid = |key: &str, value: &str| MountError::new(format!("invalid value for {key}: {value}"));
        for field in &fields {
            let Some((k, v)) = field.split_once('=') else {
                let key = field.to_lowercase();
                match key.as_str() {
                    "readonly" | "ro" => {
                        m.read_only = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.read_only = false;
                        ro_auto = false;
                    }
                    "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => m.required = true,
                    "required" => {
                        return Err(MountError::new(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            m.kind.as_str()
                        )));
                    }
                    _ => {
                        return Err(MountError::new(format!(
                            "invalid field '{field}' must be a key=value pair"
                        )));
                    }
                }
                continue;
            };
            let key = k.to_lowercase();
            let value = expand(v)?;
            match key.as_str() {
                "type" => {
                    m.kind = match value.to_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => {
                            return Err(MountError::suggest(
                                format!("unsupported mount type {}", go_q(&value)),
                                &value,
                                &["bind", "cache", "tmpfs", "secret", "ssh"],
                            ));
                        }
                    }
                }
                "from" => m.from = value,
                "source" | "src" => m.source = value,
                "target" | "dst" | "destination" => m.target = value,
                "readonly" | "ro" => {
                    m.read_only = parse_bool(&value).ok_or_else(|| invalid(&key, &value))?;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = !parse_bool(&value).ok_or_else(|| invalid(&key, &value))?;
                    ro_auto = false;
                }
                "required" => {
                    if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                        return Err(MountError::new(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            m.kind.as_str()
                        )));
                    }
                    m.required = parse_bool(&value).ok_or_else(|| invalid(&key, &value))?;
                }
                "size" => {
                    if m.kind != MountType::Tmpfs {
                        return Err(MountError::new(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            m.kind.as_str()
                        )));
                    }
                    m.size_limit = ram_in_bytes(&value).ok_or_else(|| invalid(&key, &value))?;
                }
                "id" => m.id = value,
                "sharing" => {
                    m.sharing = Some(match value.to_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => {
                            return Err(MountError::suggest(
                                format!("unsupported sharing value {}", go_q(&value)),
                                &value,
                                &["shared", "private", "locked"],
                            ));
                        }
                    });
                }
                "mode" => {
                    let mode = u32::from_str_radix(&value, 8)
                        .ok()
                        .filter(|_| !value.starts_with('+'))
                        .ok_or_else(|| MountError::new(format!("invalid value {value} for mode")))?;
                    m.mode = Some(u64::from(mode));
                }
                "uid" | "gid" => {
                    let id = value
                        .parse::<u32>()
                        .ok()
                        .filter(|_| !value.starts_with('+'))
                        .ok_or_else(|| MountError::new(format!("invalid value {value} for {key}")))?;
                    if key == "uid" {
                        m.uid = Some(u64::from(id));
                    } else {
                        m.gid = Some(u64::from(id));
                    }
                }
                "env" => m.env = Some(value),
                _ => {
                    return Err(MountError::suggest(
                        format!("unexpected key '{key}' in '{field}'"),
                        &key,
                        MOUNT_KEYS,
                    ));
                }
            }
        }
        if !matches!(m.kind, MountType::Secret | MountType::Ssh | MountType::Cache) {
            for (name, set) in
                [("mode", m.mode.is_some()), ("uid", m.uid.is_some()), ("gid", m.gid.is_some())]
            {
                if set {
                    return Err(MountError::new(format!(
                        "{name} not allowed for {} type mounts",
                        go_q(m.kind.as_str())
                    )));
                }
            }
        }
        if ro_auto {
            m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
        }
        if m.kind == MountType::Secret {
            if !m.from.is_empty() {
                return Err(MountError::new("secret mount should not have a from"));
            }
            if m.sharing.is_some() {
                return Err(MountError::new("secret mount should not define sharing"));
            }
            if m.source.is_empty() && m.target.is_empty() && m.id.is_empty() {
                return Err(MountError::new("invalid secret mount. one of source, target required"));
            }
            if !m.source.is_empty() && !m.id.is_empty() {
                return Err(MountError::new("both source and id can't be set"));
            }
        }
        if m.sharing.is_some() && m.kind != MountType::Cache {
            return Err(MountError::new(format!("invalid cache sharing set for {} mount", m.kind.as_str())));
        }
        Ok(m)
    }
}

impl Device {
    /// BuildKit's `ParseDevice`: `name[,required[=bool]]` or `name=…,required=…`.
    pub fn parse(val: &str) -> Result<Device, MountError> {
        let fields =
            csv_fields(val).map_err(|e| MountError::new(format!("failed to parse csv devices: {e}")))?;
        let mut d = Device { name: String::new(), required: false };
        for field in &fields {
            let Some((k, value)) = field.split_once('=') else {
                if field.eq_ignore_ascii_case("required") {
                    d.required = true;
                } else if d.name.is_empty() {
                    d.name = field.to_string();
                } else {
                    return Err(MountError::new(format!("invalid field '{field}' must be a key=value pair")));
                }
                continue;
            };
            let key = k.to_lowercase();
            match key.as_str() {
                "name" => {
                    if !d.name.is_empty() {
                        return Err(MountError::new(format!("device name already set to {}", d.name)));
                    }
                    d.name = value.to_owned();
                }
                "required" => {
                    d.required = parse_bool(value)
                        .ok_or_else(|| MountError::new(format!("invalid value for {key}: {value}")))?;
                }
                _ if d.name.is_empty() => d.name = field.to_string(),
                _ => {
                    return Err(MountError::suggest(
                        format!("unexpected key '{key}' in '{field}'"),
                        &key,
                        &["name", "required"],
                    ));
                }
            }
        }
        Ok(d)
    }
}

fn go_q(s: &str) -> String {
    let mut out = String::new();
    crate::words::go_quote(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(s: &str) -> Result<Mount, MountError> {
        Mount::parse(s, &mut |v| Ok(v.to_owned()))
    }

    #[test]
    fn defaults_follow_buildkit() {
        let m = mount("target=/x").unwrap();
        assert_eq!((m.kind, m.read_only), (MountType::Bind, true));
        let m = mount("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000,gid=1000")
            .unwrap();
        assert_eq!((m.kind, m.read_only, m.sharing), (MountType::Cache, false, Some(Sharing::Locked)));
        assert_eq!((m.mode, m.uid, m.gid, m.id.as_str()), (Some(0o755), Some(1000), Some(1000), "pip"));
        let m = mount("type=tmpfs,dst=/t,size=64m").unwrap();
        assert_eq!((m.read_only, m.size_limit, m.target.as_str()), (false, 64 << 20, "/t"));
        let m = mount("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert_eq!((m.required, m.env.as_deref(), m.read_only), (true, Some("TOKEN"), true));
        let m = mount("type=ssh,required=false").unwrap();
        assert!(!m.required);
        let m = mount("type=bind,from=build,source=/out,destination=/in,rw").unwrap();
        assert_eq!((m.from.as_str(), m.source.as_str(), m.read_only), ("build", "/out", false));
        assert!(mount("type=bind,readonly=false").is_ok_and(|m| !m.read_only));
        assert!(mount("type=cache,ro").is_ok_and(|m| m.read_only));
    }

    #[test]
    fn errors_follow_buildkit() {
        let e = mount("type=cahce").unwrap_err();
        assert_eq!(e.message, "unsupported mount type \"cahce\"");
        assert_eq!(e.help.as_deref(), Some("did you mean cache?"));
        assert_eq!(mount("trget=/x").unwrap_err().help.as_deref(), Some("did you mean target?"));
        assert_eq!(
            mount("target=/x,mode=0755").unwrap_err().message,
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(mount("type=cache,mode=9").unwrap_err().message, "invalid value 9 for mode");
        assert_eq!(mount("type=cache,sharing=x").unwrap_err().message, "unsupported sharing value \"x\"");
        assert_eq!(mount("sharing=shared").unwrap_err().message, "invalid cache sharing set for bind mount");
        assert_eq!(
            mount("type=secret").unwrap_err().message,
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(mount("type=secret,id=a,src=b").unwrap_err().message, "both source and id can't be set");
        assert_eq!(
            mount("type=secret,id=a,from=x").unwrap_err().message,
            "secret mount should not have a from"
        );
        assert_eq!(mount("required").unwrap_err().message, "unexpected key 'required' for mount type 'bind'");
        assert_eq!(
            mount("type=bind,size=1m").unwrap_err().message,
            "unexpected key 'size' for mount type 'bind'"
        );
        assert_eq!(mount("foo").unwrap_err().message, "invalid field 'foo' must be a key=value pair");
        assert_eq!(mount("ro=maybe").unwrap_err().message, "invalid value for ro: maybe");
        assert_eq!(
            mount("target=a\"b").unwrap_err().message,
            "failed to parse csv mounts: parse error on line 1, column 9: bare \" in non-quoted-field"
        );
        assert_eq!(
            check_mount_unexpanded("from=$X").unwrap_err().message.split(',').next(),
            Some("'from' doesn't support variable expansion")
        );
        assert!(check_mount_unexpanded("from=a$").is_ok());
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_fields("a,\"b,c\",\"d\"\"e\"").unwrap(), ["a", "b,c", "d\"e"]);
        assert_eq!(csv_fields("a,").unwrap(), ["a", ""]);
        assert!(csv_fields("\"a\"b").is_err());
        assert_eq!(csv_fields("").unwrap_err(), "EOF");
    }

    #[test]
    fn devices() {
        assert_eq!(
            Device::parse("vendor.com/gpu=all,required").unwrap(),
            Device { name: "vendor.com/gpu=all".into(), required: true }
        );
        assert_eq!(
            Device::parse("name=x,required=false").unwrap(),
            Device { name: "x".into(), required: false }
        );
        assert!(Device::parse("name=x,name=y").is_err());
    }
}
