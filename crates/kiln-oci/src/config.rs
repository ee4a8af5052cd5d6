//! The image config: [`ImageConfig`] (OCI image spec plus Docker's extensions: `Healthcheck`, `OnBuild`,
//! `Shell`), its runtime part [`ContainerConfig`], the layer list [`RootFs`] and [`History`].
//!
//! Field names and order follow what BuildKit writes, so kiln's configs read like Docker's. Maps are
//! `BTreeMap` so keys serialize sorted, as Go's encoder does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, Platform};

/// An image config blob.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author (from `MAINTAINER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture (Go spelling).
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// OS version (Windows only).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Architecture variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for running a container from the image.
    #[serde(default)]
    pub config: ContainerConfig,
    /// The layers' DiffIDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// One entry per instruction that built the image, layers and metadata alike.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// An empty config for `platform` (what `FROM scratch` starts from).
    pub fn for_platform(platform: &Platform) -> Self {
        ImageConfig {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            rootfs: RootFs::default(),
            ..ImageConfig::default()
        }
    }

    /// The platform this config declares.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
        }
    }

    /// For each layer (by index into `rootfs.diff_ids`), the index of the history entry that created it.
    ///
    /// History entries with `empty_layer` make no layer. When the history is shorter than the layer list
    /// (images from tools that write none), the remaining layers have no entry.
    pub fn layer_history(&self) -> Vec<Option<usize>> {
        let mut out = Vec::with_capacity(self.rootfs.diff_ids.len());
        let mut entries = self.history.iter().enumerate().filter(|(_, h)| !h.empty_layer);
        for _ in &self.rootfs.diff_ids {
            out.push(entries.next().map(|(i, _)| i));
        }
        out
    }
}

/// The container defaults of an image (`config` in the JSON), with Docker's field names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user[:group]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports as `port/proto` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    /// `KEY=value` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volume mount points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Signal that stops the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Windows only: the command line is already escaped (BuildKit sets it for shell-form CMD/ENTRYPOINT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Docker extension: the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Docker extension: ONBUILD triggers, as written after `ONBUILD `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Docker extension: the shell for shell-form instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

impl ContainerConfig {
    /// The value of environment variable `key`, if set.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.as_ref()?.iter().rev().find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }

    /// Sets `key=value`, replacing an earlier entry for `key` in place (as Docker does).
    pub fn set_env_var(&mut self, key: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }
}

/// An empty JSON object, the value type of `ExposedPorts` and `Volumes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// Docker's health check settings; durations are in nanoseconds, 0 means the default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Time between checks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time before a check is considered hung.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Start period during which failures do not count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between checks during the start period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures needed to report unhealthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

/// The `comment` prefix of history entries kiln writes; the rest names the Dockerfile lines that made the entry.
pub const PROVENANCE_PREFIX: &str = "kiln.dockerfile.v0";

/// Where in which Dockerfile an instruction came from, as kiln records it in each history entry's `comment`
/// (`kiln.dockerfile.v0 path/to/Dockerfile:12-14`), so analyze and scan findings can point at the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The Dockerfile's path as given to the build (relative to the context when inside it).
    pub file: String,
    /// First line of the instruction (1-based).
    pub start_line: u32,
    /// Last line of the instruction (continuations and heredocs included).
    pub end_line: u32,
}

impl Provenance {
    /// The `comment` string for a history entry.
    pub fn to_comment(&self) -> String {
        if self.start_line == self.end_line {
            format!("{PROVENANCE_PREFIX} {}:{}", self.file, self.start_line)
        } else {
            format!("{PROVENANCE_PREFIX} {}:{}-{}", self.file, self.start_line, self.end_line)
        }
    }

    /// Reads a `comment` written by [`Provenance::to_comment`]; `None` for other comments.
    pub fn from_comment(comment: &str) -> Option<Self> {
        let rest = comment.strip_prefix(PROVENANCE_PREFIX)?.strip_prefix(' ')?;
        let (file, lines) = rest.rsplit_once(':')?;
        let (start, end) = lines.split_once('-').unwrap_or((lines, lines));
        let start_line = start.parse().ok()?;
        let end_line = end.parse().ok()?;
        (!file.is_empty() && start_line <= end_line).then(|| Provenance {
            file: file.to_owned(),
            start_line,
            end_line,
        })
    }

    /// `file:line` (or `file:start-end`) for messages.
    pub fn location(&self) -> String {
        self.to_comment()[PROVENANCE_PREFIX.len() + 1..].to_owned()
    }
}

impl History {
    /// The Dockerfile location kiln recorded for this entry, if any.
    pub fn provenance(&self) -> Option<Provenance> {
        Provenance::from_comment(self.comment.as_deref()?)
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The image's layers by DiffID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// DiffIDs (digests of the uncompressed layer tars), base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs { kind: "layers".to_owned(), diff_ids: Vec::new() }
    }
}

/// One history entry: the instruction that made a layer, or a metadata change (`empty_layer`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct History {
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, as BuildKit writes it (e.g. `RUN /bin/sh -c make # buildkit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment (`buildkit.dockerfile.v0` for BuildKit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the instruction made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_json_round_trips() {
        let json = r#"{"architecture":"amd64","os":"linux","config":{"User":"app","ExposedPorts":{"80/tcp":{}},"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},"OnBuild":["RUN x"]},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},"history":[{"created_by":"ENV A=1","empty_layer":true},{"created_by":"RUN x"}]}"#;
        let config: ImageConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.config.user.as_deref(), Some("app"));
        assert_eq!(config.config.healthcheck.as_ref().unwrap().interval, 30_000_000_000);
        assert_eq!(config.config.env_var("A"), Some("1"));
        assert_eq!(config.layer_history(), vec![Some(1)]);
        let again: ImageConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn provenance_round_trips_through_the_comment() {
        let p = Provenance { file: "sub dir/Dockerfile.dev".into(), start_line: 12, end_line: 14 };
        assert_eq!(p.to_comment(), "kiln.dockerfile.v0 sub dir/Dockerfile.dev:12-14");
        assert_eq!(Provenance::from_comment(&p.to_comment()), Some(p.clone()));
        assert_eq!(p.location(), "sub dir/Dockerfile.dev:12-14");
        let one = Provenance { file: "Dockerfile".into(), start_line: 3, end_line: 3 };
        let h = History { comment: Some(one.to_comment()), ..History::default() };
        assert_eq!(h.provenance(), Some(one));
        for other in [
            "buildkit.dockerfile.v0",
            "kiln.dockerfile.v0 Dockerfile",
            "kiln.dockerfile.v0 D:9-3",
            "kiln.dockerfile.v0 :1",
        ] {
            assert_eq!(Provenance::from_comment(other), None, "{other}");
        }
    }

    #[test]
    fn set_env_var_replaces_in_place() {
        let mut c = ContainerConfig::default();
        c.set_env_var("PATH", "/bin");
        c.set_env_var("A", "1");
        c.set_env_var("PATH", "/usr/bin:/bin");
        assert_eq!(c.env.unwrap(), vec!["PATH=/usr/bin:/bin".to_owned(), "A=1".to_owned()]);
    }
}
