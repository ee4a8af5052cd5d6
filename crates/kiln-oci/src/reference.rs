//! Image references: [`Reference`] parses `name[:tag][@digest]` with the grammar of Docker's
//! `distribution/reference` and normalizes Docker Hub names (`alpine` → `docker.io/library/alpine:latest`).

use std::fmt;
use std::str::FromStr;

use crate::Digest;

/// The registry that names without a domain refer to.
pub const DOCKER_HUB: &str = "docker.io";

/// A normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path inside the registry, e.g. `library/alpine`.
    pub repository: String,
    /// Tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// Digest pin, when given.
    pub digest: Option<Digest>,
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference {input:?}: {reason}")]
pub struct ReferenceError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

const MAX_NAME_LEN: usize = 255;

impl Reference {
    /// Parses and normalizes a reference as `docker pull` does.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let err = |reason: &str| ReferenceError { input: input.to_owned(), reason: reason.to_owned() };
        if input.is_empty() {
            return Err(err("empty reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => (rest, Some(Digest::parse(d).map_err(|e| err(&e.to_string()))?)),
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(err)?;
        }
        if name.len() > MAX_NAME_LEN {
            return Err(err("repository name must not be more than 255 characters"));
        }
        let (registry, repository) = split_domain(name);
        if let Some(registry) = &registry {
            validate_domain(registry).map_err(err)?;
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(err("repository name must be lowercase"));
        }
        validate_path(repository).map_err(err)?;
        let registry = match registry.as_deref() {
            None | Some("index.docker.io") => DOCKER_HUB.to_owned(),
            Some(r) => r.to_owned(),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(err("repository name must not be more than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, None) => Some("latest".to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The shortest spelling Docker would print (`alpine:3.19`, `localhost:5000/app:v1`).
    pub fn familiar(&self) -> String {
        let mut name = if self.registry == DOCKER_HUB {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_owned()
        } else {
            self.name()
        };
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(&digest.to_string());
        }
        name
    }

    /// The tag or digest to ask a registry for: the digest when pinned, else the tag.
    pub fn reference_part(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

/// Splits the domain from the path with Docker's rule: the first component is a domain when it contains
/// `.` or `:`, is `localhost`, or has upper-case letters.
fn split_domain(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first =>
        {
            (Some(first.to_owned()), rest)
        }
        _ => (None, name),
    }
}

fn validate_tag(tag: &str) -> Result<(), &'static str> {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok
        || tag.len() > 128
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err("invalid tag format");
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("invalid IPv6 domain")?;
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err("invalid IPv6 domain");
        }
        (None, after.strip_prefix(':'))
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("invalid port in domain");
    }
    if let Some(host) = host {
        for component in host.split('.') {
            let ok = !component.is_empty()
                && component.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !component.starts_with('-')
                && !component.ends_with('-');
            if !ok {
                return Err("invalid domain");
            }
        }
    }
    Ok(())
}

/// `path-component ('/' path-component)*` where a component is `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn validate_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("repository name must have at least one component");
    }
    for component in path.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err("invalid reference format");
        }
        let mut i = 0;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &component[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
            if !ok {
                return Err("invalid reference format");
            }
        }
    }
    Ok(())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalizes_docker_hub_names() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("user/app", "docker.io/user/app:latest"),
            ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/a/b:v1", "localhost:5000/a/b:v1"),
            ("ghcr.io/o/r:1.0", "ghcr.io/o/r:1.0"),
            ("[::1]:5000/app", "[::1]:5000/app:latest"),
            ("my_reg.local/x", "my_reg.local/x:latest"),
        ];
        for (input, want) in cases {
            match Reference::parse(input) {
                Ok(r) => assert_eq!(r.to_string(), want, "{input}"),
                Err(e) if input.starts_with("my_reg") => assert!(e.reason.contains("domain")),
                Err(e) => panic!("{input}: {e}"),
            }
        }
    }

    #[test]
    fn digests_pin_without_implying_latest() {
        let r = Reference::parse(&format!("alpine@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.reference_part(), D);
        let r = Reference::parse(&format!("alpine:3@{D}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/alpine:3@{D}"));
        assert_eq!(r.familiar(), format!("alpine:3@{D}"));
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in ["", "Alpine", "a//b", "a:", "a:-tag", "-a", "a__-b", "a/b@sha256:xyz", "a:b:c"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = "a".repeat(256);
        assert!(Reference::parse(&long).is_err());
        // Short as written, too long once normalized to docker.io/library/... (found by fuzzing).
        let grows = "a".repeat(250);
        assert!(Reference::parse(&grows).is_err());
        assert!(Reference::parse(&"a".repeat(237)).is_ok());
    }

    #[test]
    fn familiar_strips_docker_hub() {
        assert_eq!(Reference::parse("busybox").unwrap().familiar(), "busybox:latest");
        assert_eq!(Reference::parse("quay.io/x/y:z").unwrap().familiar(), "quay.io/x/y:z");
    }
}
