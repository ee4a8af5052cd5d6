//! Package URLs (purl), built with the `packageurl` crate (canonical encoding, sorted qualifiers), with
//! syft's conventions for OS packages: `pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc`.

use packageurl::PackageUrl;

use crate::catalog::Found;
use crate::model::{Ecosystem, OsRelease};

/// `pkg:<ty>/[<namespace>/]<name>@<version>`.
pub(crate) fn simple(ty: &str, namespace: Option<&str>, name: &str, version: &str) -> String {
    build(ty, namespace, name, version, &[])
}

fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, String)],
) -> String {
    let built = (|| -> Result<String, packageurl::Error> {
        let mut purl = PackageUrl::new(ty, name)?;
        if let Some(ns) = namespace.filter(|ns| !ns.is_empty()) {
            purl.with_namespace(ns)?;
        }
        if !version.is_empty() {
            purl.with_version(version)?;
        }
        for (k, v) in qualifiers {
            if !v.is_empty() {
                purl.add_qualifier(*k, v.clone())?;
            }
        }
        Ok(purl.to_string())
    })();
    // The crate rejects only an invalid type (ours are constants) or an empty name (checked by every
    // cataloger); a bare form keeps the package reportable all the same.
    built.unwrap_or_else(|_| format!("pkg:{ty}/{name}@{version}"))
}

/// The purl of an OS package, which names the distribution (`None` until os-release is known).
pub(crate) fn os_package(found: &Found, os: Option<&OsRelease>) -> String {
    let ty = match found.ecosystem {
        Ecosystem::Deb => "deb",
        Ecosystem::Apk => "apk",
        Ecosystem::Rpm => "rpm",
        _ => "generic",
    };
    // syft's namespace for Red Hat Enterprise Linux is `redhat`, elsewhere the os-release ID.
    let namespace = os.map(|o| if o.id == "rhel" { "redhat" } else { o.id.as_str() });
    let distro = os
        .map(|o| match &o.version_id {
            Some(v) => format!("{}-{v}", o.id),
            None => o.id.clone(),
        })
        .unwrap_or_default();
    let upstream = match (&found.source_name, &found.source_version) {
        _ if found.upstream.is_some() => found.upstream.clone().unwrap_or_default(),
        (Some(name), Some(version)) => format!("{name}@{version}"),
        (Some(name), None) => name.clone(),
        (None, _) => String::new(),
    };
    let mut qualifiers = vec![("arch", found.arch.clone().unwrap_or_default()), ("distro", distro)];
    if let Some(epoch) = &found.epoch {
        qualifiers.push(("epoch", epoch.clone()));
    }
    qualifiers.push(("upstream", upstream));
    let version = match &found.epoch {
        Some(epoch) => found.version.strip_prefix(&format!("{epoch}:")).unwrap_or(&found.version),
        None => &found.version,
    };
    build(ty, namespace, &found.name, version, &qualifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_purl_like_syft() {
        let mut found = Found::new("bsdutils", "1:2.38.1-5+deb12u3", Ecosystem::Deb, "dpkg-db");
        found.arch = Some("amd64".into());
        found.source_name = Some("util-linux".into());
        found.source_version = Some("2.38.1-5+deb12u3".into());
        let os = OsRelease { id: "debian".into(), version_id: Some("12".into()), ..OsRelease::default() };
        assert_eq!(
            os_package(&found, Some(&os)),
            "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3"
        );
    }

    #[test]
    fn language_purls() {
        assert_eq!(simple("pypi", None, "requests", "2.31.0"), "pkg:pypi/requests@2.31.0");
        assert_eq!(simple("golang", Some("github.com/a"), "b", "v1.0.0"), "pkg:golang/github.com/a/b@v1.0.0");
    }
}
