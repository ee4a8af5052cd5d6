//! The image checks, declared as data ([`CHECKS`]) and evaluated over the image config, its history and
//! the facts of the layer pass. IDs follow dockle (`CIS-DI-00xx` for the CIS Docker Benchmark §4
//! recommendations, `DKL-DI-00xx` for dockle's own), with the CIS section number alongside; checks dockle
//! does not have are `KILN-DI-00xx`.

use std::collections::BTreeMap;

use kiln_oci::ImageConfig;

use crate::walk::{Fact, FactKind};
use crate::{CheckFinding, Evidence, Level, SecretFinding};

/// The description of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CheckInfo {
    /// Stable ID (`CIS-DI-0001`).
    pub id: &'static str,
    /// The CIS Docker Benchmark recommendation (`4.1`), when there is one.
    pub cis: Option<&'static str>,
    /// One line.
    pub title: &'static str,
    /// How serious a failure is.
    pub level: Level,
    /// Why it matters.
    pub description: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
}

/// Every check, in report order.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: "CIS-DI-0001",
        cis: Some("4.1"),
        title: "Create a user for the container",
        level: Level::Medium,
        description: "The image runs as root: it sets no USER, or USER root/0. A process that escapes or \
                      is compromised then holds root in the container, and on the host when user \
                      namespaces are not used.",
        remediation: "Add a user (`RUN useradd --uid 10001 app`) and `USER 10001` (numeric, so Kubernetes' \
                      runAsNonRoot can verify it).",
    },
    CheckInfo {
        id: "CIS-DI-0006",
        cis: Some("4.6"),
        title: "Add HEALTHCHECK instruction to the container image",
        level: Level::Low,
        description: "The image has no HEALTHCHECK (or disables it), so the engine cannot tell a hung \
                      service from a healthy one.",
        remediation: "Add `HEALTHCHECK CMD <probe>`; orchestrators that use their own probes may ignore this.",
    },
    CheckInfo {
        id: "CIS-DI-0007",
        cis: Some("4.7"),
        title: "Do not use update instructions alone in the Dockerfile",
        level: Level::Medium,
        description: "A RUN updates the package index without installing in the same layer; the cached \
                      index layer then makes later installs use stale package lists.",
        remediation: "Combine them: `RUN apt-get update && apt-get install -y --no-install-recommends pkg`.",
    },
    CheckInfo {
        id: "CIS-DI-0008",
        cis: Some("4.8"),
        title: "Confirm safety of setuid/setgid files",
        level: Level::Low,
        description: "Files with setuid or setgid bits let an unprivileged user run them with their \
                      owner's or group's rights; each is a privilege-escalation path.",
        remediation: "Remove the bits where not needed: `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`.",
    },
    CheckInfo {
        id: "CIS-DI-0009",
        cis: Some("4.9"),
        title: "Use COPY instead of ADD in Dockerfile",
        level: Level::Low,
        description: "ADD fetches URLs and unpacks archives implicitly, which can bring unexpected content \
                      into the image.",
        remediation: "Use COPY for local files; download explicitly with a checksum (`ADD --checksum=` or \
                      curl + sha256sum) when fetching.",
    },
    CheckInfo {
        id: "CIS-DI-0010",
        cis: Some("4.10"),
        title: "Do not store secrets in the image",
        level: Level::Critical,
        description: "Credentials were found in a layer (deleted files included: a later layer's deletion \
                      does not remove them from the image), in ENV or LABEL, or in build arguments \
                      recorded in the history.",
        remediation: "Pass secrets at build time with `RUN --mount=type=secret` and at run time through the \
                      orchestrator; rotate every credential found.",
    },
    CheckInfo {
        id: "DKL-DI-0001",
        cis: None,
        title: "Avoid sudo command",
        level: Level::Medium,
        description: "sudo is installed; in a container it is rarely needed and its setuid binary lets a \
                      compromised user escalate.",
        remediation: "Remove the sudo package; switch users at build time with USER, or use gosu/su-exec.",
    },
    CheckInfo {
        id: "DKL-DI-0005",
        cis: None,
        title: "Clear package-manager caches",
        level: Level::Low,
        description: "Package-manager caches (apt lists and archives, apk, yum/dnf, pip, npm, yarn, Go build \
                      cache) were left in the final filesystem: wasted bytes, and stale data.",
        remediation: "Clean in the same RUN (`rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, \
                      `pip install --no-cache-dir`) or use cache mounts (`RUN --mount=type=cache`).",
    },
    CheckInfo {
        id: "DKL-DI-0006",
        cis: None,
        title: "Avoid latest tag",
        level: Level::Low,
        description: "The image's base is recorded (label `org.opencontainers.image.base.name`) with the \
                      `latest` tag or no tag, so rebuilds may silently change the base.",
        remediation: "Pin the base by tag and digest: `FROM debian:12.5@sha256:…`.",
    },
    CheckInfo {
        id: "KILN-DI-0001",
        cis: None,
        title: "Avoid world-writable files and directories outside /tmp",
        level: Level::Medium,
        description: "Any user in the container can modify world-writable files, or add and replace files \
                      in world-writable directories without the sticky bit.",
        remediation: "Fix the modes (`chmod o-w`); use a sticky directory such as /tmp for shared scratch.",
    },
];

/// The description of check `id`.
pub fn check(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

fn finding(id: &'static str, message: String, evidence: Vec<Evidence>) -> CheckFinding {
    // Every ID passed here is in CHECKS (the unit tests run each check).
    let info = check(id).unwrap_or(&CHECKS[0]);
    CheckFinding { id: info.id, cis: info.cis, title: info.title, level: info.level, message, evidence }
}

/// Whether `user` (a USER value) means root.
fn is_root(user: Option<&str>) -> bool {
    let u = user.unwrap_or("").trim();
    let name = u.split(':').next().unwrap_or("");
    name.is_empty() || name == "root" || name == "0"
}

/// Runs every check. `layers` gives each layer's Dockerfile line (for images kiln built).
pub(crate) fn run(
    config: &ImageConfig,
    facts: &[Fact],
    secrets: &[SecretFinding],
    layers: &[Option<String>],
) -> Vec<CheckFinding> {
    let mut out = Vec::new();
    let c = &config.config;
    let evidence = |f: &Fact, detail: Option<String>| Evidence {
        path: Some(f.path.clone()),
        layer_index: Some(f.layer),
        dockerfile_line: layers.get(f.layer).cloned().flatten(),
        history_index: None,
        detail,
    };
    let history_evidence = |i: usize, detail: String| Evidence {
        path: None,
        layer_index: None,
        dockerfile_line: config.history.get(i).and_then(|h| h.provenance()).map(|p| p.location()),
        history_index: Some(i),
        detail: Some(detail),
    };

    if is_root(c.user.as_deref()) {
        let how = match c.user.as_deref().map(str::trim) {
            None | Some("") => "the image sets no USER, so it runs as root".to_owned(),
            Some(u) => format!("the image runs as USER {u}"),
        };
        out.push(finding("CIS-DI-0001", how, Vec::new()));
    }

    let healthcheck_disabled = c
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|t| t.first().is_some_and(|x| x == "NONE"));
    if c.healthcheck.is_none() || healthcheck_disabled {
        let how = if healthcheck_disabled { "HEALTHCHECK NONE disables it" } else { "no HEALTHCHECK is set" };
        out.push(finding("CIS-DI-0006", how.to_owned(), Vec::new()));
    }

    let mut update_alone = Vec::new();
    let mut adds = Vec::new();
    for (i, h) in config.history.iter().enumerate() {
        let Some(cmd) = h.created_by.as_deref() else { continue };
        if updates_alone(cmd) {
            update_alone.push(history_evidence(i, crate::shorten(cmd)));
        }
        if uses_add(cmd) {
            adds.push(history_evidence(i, crate::shorten(cmd)));
        }
    }
    if !update_alone.is_empty() {
        let n = update_alone.len();
        out.push(finding(
            "CIS-DI-0007",
            format!("{n} RUN instruction(s) update the package index without installing"),
            update_alone,
        ));
    }

    let setuid: Vec<Evidence> = facts
        .iter()
        .filter(|f| f.visible)
        .filter_map(|f| match f.kind {
            FactKind::Setuid(mode) => {
                let bits = match (mode & 0o4000 != 0, mode & 0o2000 != 0) {
                    (true, true) => "setuid+setgid",
                    (true, false) => "setuid",
                    _ => "setgid",
                };
                Some(evidence(f, Some(format!("{bits}, mode {:04o}", mode & 0o7777))))
            }
            _ => None,
        })
        .collect();
    if !setuid.is_empty() {
        out.push(finding("CIS-DI-0008", format!("{} setuid/setgid file(s)", setuid.len()), setuid));
    }

    if !adds.is_empty() {
        out.push(finding("CIS-DI-0009", format!("{} ADD instruction(s) in the history", adds.len()), adds));
    }

    if let Some(worst) = secrets.iter().map(|s| s.secret.level).max() {
        let mut f = finding(
            "CIS-DI-0010",
            format!("{} secret(s) found (see the secrets section)", secrets.len()),
            Vec::new(),
        );
        f.level = worst;
        out.push(f);
    }

    let sudo: Vec<Evidence> =
        facts.iter().filter(|f| f.visible && f.kind == FactKind::Sudo).map(|f| evidence(f, None)).collect();
    if !sudo.is_empty() {
        out.push(finding("DKL-DI-0001", "sudo is installed".to_owned(), sudo));
    }

    let mut caches: BTreeMap<&str, (u64, u64, Option<&Fact>)> = BTreeMap::new();
    for f in facts.iter().filter(|f| f.visible) {
        if let FactKind::Cache(manager, size) = f.kind {
            let e = caches.entry(manager).or_insert((0, 0, Some(f)));
            e.0 += 1;
            e.1 += size;
        }
    }
    if !caches.is_empty() {
        let evidence: Vec<Evidence> = caches
            .iter()
            .map(|(manager, (files, bytes, first))| Evidence {
                detail: Some(format!("{manager}: {files} file(s), {bytes} bytes")),
                ..first.map(|f| evidence(f, None)).unwrap_or_default()
            })
            .collect();
        let names: Vec<&str> = caches.keys().copied().collect();
        out.push(finding(
            "DKL-DI-0005",
            format!("package-manager caches left: {}", names.join(", ")),
            evidence,
        ));
    }

    if let Some(base) = c.labels.as_ref().and_then(|l| l.get("org.opencontainers.image.base.name")) {
        let without_digest = base.split('@').next().unwrap_or(base);
        let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
        let tag = last.split_once(':').map(|(_, t)| t);
        if !base.contains('@') && matches!(tag, None | Some("latest")) {
            out.push(finding("DKL-DI-0006", format!("the base image {base} is unpinned"), Vec::new()));
        }
    }

    let writable: Vec<Evidence> = facts
        .iter()
        .filter(|f| f.visible)
        .filter_map(|f| match f.kind {
            FactKind::WorldWritable(mode, dir) => {
                let what = if dir { "directory" } else { "file" };
                Some(evidence(f, Some(format!("{what}, mode {:04o}", mode & 0o7777))))
            }
            _ => None,
        })
        .collect();
    if !writable.is_empty() {
        out.push(finding("KILN-DI-0001", format!("{} world-writable path(s)", writable.len()), writable));
    }
    out
}

/// `apt-get update` / `apk update` / `yum makecache` in a RUN that installs nothing.
fn updates_alone(cmd: &str) -> bool {
    let c = cmd.to_ascii_lowercase();
    let updates = ["apt-get update", "apt update", "apk update", "yum makecache", "dnf makecache"];
    let installs = ["install", "apk add", "upgrade"];
    updates.iter().any(|u| c.contains(u)) && !installs.iter().any(|i| c.contains(i))
}

/// An `ADD` instruction, other than the `ADD file:… in /` that puts a base image's root filesystem in.
fn uses_add(cmd: &str) -> bool {
    let c = cmd.trim_start();
    let c = c.strip_prefix("/bin/sh -c #(nop)").map_or(c, str::trim_start);
    let Some(rest) = c.strip_prefix("ADD ") else { return false };
    let rootfs =
        (rest.starts_with("file:") || rest.starts_with("multi:")) && rest.trim_end().ends_with(" in /");
    !rootfs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_patterns() {
        assert!(updates_alone("RUN /bin/sh -c apt-get update"));
        assert!(!updates_alone("RUN /bin/sh -c apt-get update && apt-get install -y curl"));
        assert!(uses_add("ADD app.tar.gz /opt/ # buildkit"));
        assert!(uses_add("/bin/sh -c #(nop) ADD https://example.com/x /x"));
        assert!(!uses_add("/bin/sh -c #(nop) ADD file:3b2ef2f5ddbd1cdd9b2bf6c1a6ee24c4d2f6c7ff in / "));
        assert!(!uses_add("COPY . /app # buildkit"));
    }

    #[test]
    fn root_users() {
        for u in [None, Some(""), Some("root"), Some("0"), Some("0:0"), Some("root:staff")] {
            assert!(is_root(u), "{u:?}");
        }
        for u in [Some("app"), Some("10001"), Some("10001:10001")] {
            assert!(!is_root(u), "{u:?}");
        }
    }

    #[test]
    fn every_check_id_is_unique() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
    }
}
