//! [`Platform`]: the `os/architecture[/variant]` an image is built for, with Docker's spellings and the
//! host's own platform.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An image platform, as in an index entry or an image config.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in Go's spelling, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Architecture variant, e.g. `v8` for arm64 or `v7` for arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows images only).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}

/// Why a platform string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {input:?}: {reason}")]
pub struct PlatformError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Platform {
    /// The platform of the machine kiln runs on (`linux/<GOARCH>[/<variant>]`).
    pub fn host() -> Self {
        let (architecture, variant) = go_arch(std::env::consts::ARCH);
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
        }
    }

    /// Parses `os[/arch[/variant]]` or a bare `arch`, normalizing aliases as containerd does
    /// (`x86_64` → `amd64`, `aarch64` → `arm64`, `arm64/v8` → `arm64`).
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let err = |reason| PlatformError { input: s.to_owned(), reason };
        let lower = s.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err("empty component"));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [one] if is_known_os(one) => (*one, Platform::host().architecture, None),
            [one] => ("linux", (*one).to_owned(), None),
            [os, arch] => (*os, (*arch).to_owned(), None),
            [os, arch, variant] => (*os, (*arch).to_owned(), Some((*variant).to_owned())),
            _ => return Err(err("expected os/arch[/variant]")),
        };
        if !is_known_os(os) {
            return Err(err("unknown operating system"));
        }
        let (arch, default_variant) = go_arch(&arch);
        let mut variant = variant.or(default_variant.map(str::to_owned));
        if arch == "arm64" && variant.as_deref() == Some("v8") {
            variant = None;
        }
        Ok(Platform { os: os.to_owned(), architecture: arch.to_owned(), variant, os_version: None })
    }

    /// True when `self` can run on `other` as is: same OS and architecture, and the variant matches when both
    /// name one.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

fn is_known_os(os: &str) -> bool {
    matches!(os, "linux" | "windows" | "darwin" | "freebsd" | "netbsd" | "openbsd" | "solaris" | "illumos")
}

/// Go's architecture name (and default variant) for a Rust / uname architecture name.
fn go_arch(arch: &str) -> (&str, Option<&'static str>) {
    match arch {
        "x86_64" | "x86-64" | "amd64" => ("amd64", None),
        "aarch64" | "arm64" => ("arm64", None),
        "x86" | "i386" | "i686" | "386" => ("386", None),
        "arm" | "armhf" | "armel" => ("arm", Some("v7")),
        "powerpc64" | "ppc64le" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        assert_eq!(Platform::parse("linux/amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux/x86_64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().to_string(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(Platform::parse("LINUX/ARM/V6").unwrap().to_string(), "linux/arm/v6");
        assert!(Platform::parse("plan9/amd64").is_err());
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn host_is_linux_and_matches_itself() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(host.matches(&Platform::parse(&host.to_string()).unwrap()));
        assert!(!host.matches(&Platform::parse("windows/amd64").unwrap()));
    }
}
