//! `--chown` and WORKDIR owners: [`resolve_chown`] turns `user[:group]` into numeric ids the way
//! BuildKit's file operations do (`readUser`): a numeric user without a group also gives the group
//! (`1000` → 1000:1000), a user name takes its primary group from the rootfs' `/etc/passwd`, a group name
//! is looked up in `/etc/group`. Unknown names are errors naming the file.
//!
//! This differs from `USER` resolution (kiln-sandbox's `resolve_user`), where a numeric uid alone gets
//! its passwd group or 0; BuildKit has the two rules, so kiln does too. Parsing passwd/group is small and
//! must read the image's files, not the host's NSS, so it is written here.

use std::path::Path;

use crate::error::BuildError;

/// Numeric owner for copied files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn read_db(rootfs: Option<&Path>, file: &str) -> Option<String> {
    let root = rootfs?;
    let host = kiln_fs::resolve_in_root(root, Path::new(file), true).ok()?;
    let meta = std::fs::metadata(&host).ok()?;
    if !meta.is_file() || meta.len() > 10 << 20 {
        return None;
    }
    std::fs::read_to_string(host).ok()
}

/// Field `index` of the `name:...` line of a colon-separated database, matched by name.
fn lookup(db: Option<&str>, name: &str) -> Option<Vec<String>> {
    db?.lines()
        .map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.first().is_some_and(|n| n == name))
}

fn parse_id(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32)
}

/// Resolves `spec` (`user`, `user:group`, ids or names) against the rootfs at `rootfs` (`None`: an empty
/// filesystem, where only numbers resolve).
pub(crate) fn resolve_chown(rootfs: Option<&Path>, spec: &str) -> Result<Owner, BuildError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = || read_db(rootfs, "/etc/passwd");
    let (uid, mut gid) = match parse_id(user) {
        Some(n) => (n, n),
        None if user.is_empty() => (0, 0),
        None => {
            let fields = lookup(passwd().as_deref(), user).ok_or_else(|| {
                BuildError::Invalid(format!("unable to find user {user}: no matching entries in /etc/passwd"))
            })?;
            let uid = fields.get(2).and_then(|f| parse_id(f));
            let gid = fields.get(3).and_then(|f| parse_id(f));
            match (uid, gid) {
                (Some(u), Some(g)) => (u, g),
                _ => return Err(BuildError::Invalid(format!("invalid /etc/passwd entry for user {user}"))),
            }
        }
    };
    if let Some(group) = group.filter(|g| !g.is_empty()) {
        gid = match parse_id(group) {
            Some(n) => n,
            None => {
                let db = read_db(rootfs, "/etc/group");
                let fields = lookup(db.as_deref(), group).ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "unable to find group {group}: no matching entries in /etc/group"
                    ))
                })?;
                fields.get(2).and_then(|f| parse_id(f)).ok_or_else(|| {
                    BuildError::Invalid(format!("invalid /etc/group entry for group {group}"))
                })?
            }
        };
    }
    Ok(Owner { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkit_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n")
            .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let r = |s: &str| resolve_chown(Some(dir.path()), s);
        assert_eq!(r("1000").unwrap(), Owner { uid: 1000, gid: 1000 });
        assert_eq!(r("app").unwrap(), Owner { uid: 1000, gid: 1001 });
        assert_eq!(r("app:staff").unwrap(), Owner { uid: 1000, gid: 50 });
        assert_eq!(r("5:7").unwrap(), Owner { uid: 5, gid: 7 });
        assert!(r("nobody").unwrap_err().to_string().contains("unable to find user nobody"));
        assert!(r("app:wheel").unwrap_err().to_string().contains("unable to find group wheel"));
        assert_eq!(resolve_chown(None, "12:34").unwrap(), Owner { uid: 12, gid: 34 });
        assert!(resolve_chown(None, "app").is_err());
    }
}
