//! [`Challenge`]: what a registry's `WWW-Authenticate` header asks for — HTTP Basic, or a Bearer token from
//! a token service (`realm`, `service`, `scope`), as the distribution token specification defines.
//!
//! The header grammar (RFC 7235: a scheme, then `name=value` or `name="quoted"` parameters separated by
//! commas) is small enough that a parser crate would add more than it saves.

use std::collections::BTreeMap;

/// An authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic: send the user name and password with every request.
    Basic,
    /// Fetch a token from `realm` and send it as `Authorization: Bearer`.
    Bearer {
        /// The token service URL.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the registry asked for, when it said (a 401 on a request, not on `/v2/`).
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` header value; `None` for schemes kiln does not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
        let params = parse_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => None,
        }
    }
}

/// `a="x, y",b=z` → {a: "x, y", b: "z"} (names lower-cased).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        out.insert(name.trim().to_ascii_lowercase(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_and_basic_challenges() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push",error="insufficient_scope""#;
        assert_eq!(
            Challenge::parse(hub),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            })
        );
        assert_eq!(Challenge::parse(r#"Basic realm="basic-realm""#), Some(Challenge::Basic));
        assert_eq!(
            Challenge::parse(r#"bearer realm=http://h/t , service = "s\"q""#),
            Some(Challenge::Bearer { realm: "http://h/t".into(), service: Some("s\"q".into()), scope: None })
        );
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }
}
