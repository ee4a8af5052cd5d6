//! `USER` resolution: [`resolve_user`] turns `name[:group]` into numeric ids by reading the rootfs'
//! `/etc/passwd` and `/etc/group`, with exactly the rules BuildKit applies (its `oci.GetUser` over
//! `moby/sys/user.GetExecUser`, plus containerd's "primary group is also a supplementary group").
//!
//! The rules, in order:
//! - empty means `0`, and any failure to resolve the default falls back to root;
//! - `uid:gid` where both are numbers (or the word `root`) is taken as is, without reading any file;
//! - otherwise the user part matches a passwd entry by uid when it is numeric, else by name; a numeric user
//!   without an entry is used as is with gid 0; an unknown name is an error;
//! - an explicit group matches a group entry by gid when numeric, else by name (unknown name: error,
//!   unknown number: used as is); without an explicit group the primary gid comes from passwd and the
//!   supplementary groups are every group listing the user's name as a member;
//! - ids must lie in 0..=2^31-1; passwd and group must be regular files of at most 10 MiB.
//!
//! Written here rather than taken from a crate: the `users`/`nix` lookups read the host's databases
//! through NSS, while this must read the image's files with Go's exact parsing quirks.

use std::path::{Path, PathBuf};

use crate::resolve::{ResolveFailure, cstr, resolve};
use crate::spec::Ids;
use crate::sys::{Errno, LinuxSys, Sys};

/// BuildKit's size limit for `/etc/passwd` and `/etc/group`.
const MAX_USER_FILE: usize = 10 << 20;
/// moby/sys/user's id range.
const MAX_ID: i64 = (1 << 31) - 1;

/// Why a `USER` value could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The user name is in no passwd entry.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    NoUser {
        /// The name.
        user: String,
    },
    /// The group name is in no group entry.
    #[error("unable to find group {group}: no matching entries in group file")]
    NoGroup {
        /// The name.
        group: String,
    },
    /// A numeric id outside 0..=2147483647.
    #[error("{value}: uids and gids must be in range 0-2147483647")]
    Range {
        /// The offending text.
        value: String,
    },
    /// `/etc/passwd` or `/etc/group` exists but could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The host path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Resolves a Dockerfile `USER` value against the `/etc/passwd` and `/etc/group` of the root filesystem at
/// `rootfs` (a directory the caller can see; symlinks inside it resolve inside it).
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<Ids, UserError> {
    resolve_user_with(&LinuxSys, rootfs, spec)
}

/// [`resolve_user`] through a given [`Sys`].
pub(crate) fn resolve_user_with(sys: &dyn Sys, rootfs: &Path, spec: &str) -> Result<Ids, UserError> {
    let is_default = spec.is_empty();
    let spec = if is_default { "0" } else { spec };
    if let Some((uid, gid)) = parse_uid_gid(spec) {
        return Ok(Ids { uid, gid, additional_gids: vec![gid] });
    }
    let passwd = read_user_file(sys, rootfs, "/etc/passwd")?;
    let group = read_user_file(sys, rootfs, "/etc/group")?;
    match exec_user(spec, passwd.as_deref(), group.as_deref()) {
        Ok(mut ids) => {
            ids.additional_gids = ids.groups();
            Ok(ids)
        }
        Err(_) if is_default => Ok(Ids { uid: 0, gid: 0, additional_gids: vec![0] }),
        Err(e) => Err(e),
    }
}

/// Reads a user database file inside the rootfs; `None` when it does not exist (or is not a regular file,
/// which BuildKit also treats as absent). Other failures are errors (BuildKit would treat them as absent
/// too and then report an unknown user, which hides the real cause).
fn read_user_file(sys: &dyn Sys, rootfs: &Path, name: &str) -> Result<Option<String>, UserError> {
    let resolved = match resolve(sys, rootfs, Path::new(name)) {
        Ok(resolved) if resolved.missing.is_empty() => resolved,
        Ok(_) | Err(ResolveFailure::NotADirectory(_) | ResolveFailure::Loop) => return Ok(None),
        Err(ResolveFailure::Sys(rel, e)) => {
            return Err(UserError::Read { path: rootfs.join(rel), source: e.into() });
        }
    };
    let path = rootfs.join(&resolved.existing);
    let Ok(c) = cstr(&path) else { return Ok(None) };
    match sys.read_file(&c, MAX_USER_FILE) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(Errno::NOENT | Errno::INVAL | Errno::LOOP | Errno::ISDIR) => Ok(None),
        Err(e) => Err(UserError::Read { path, source: e.into() }),
    }
}

/// BuildKit's `ParseUIDGID`: `a:b` where both parts are `root` or a base-10 `u32`.
fn parse_uid_gid(spec: &str) -> Option<(u32, u32)> {
    let (user, group) = spec.split_once(':')?;
    let parse = |s: &str| if s == "root" { Some(0) } else { parse_go_uint32(s) };
    Some((parse(user)?, parse(group)?))
}

/// Go's `strconv.ParseUint(s, 10, 32)`: digits only, no sign, fits in 32 bits.
fn parse_go_uint32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How Go's `strconv.Atoi` fails.
#[derive(Debug, PartialEq, Eq)]
enum AtoiError {
    Syntax,
    Range,
}

/// Go's `strconv.Atoi`: an optional sign and base-10 digits, 64-bit range.
fn go_atoi(s: &str) -> Result<i64, AtoiError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AtoiError::Syntax);
    }
    s.parse::<i64>().map_err(|_| AtoiError::Range)
}

/// moby/sys/user's `parseNumeric`: `(value, is_numeric)`; out-of-range numbers are an error.
fn parse_numeric(s: &str) -> Result<(i64, bool), UserError> {
    if s.is_empty() {
        return Ok((0, false));
    }
    match go_atoi(s) {
        Err(AtoiError::Syntax) => Ok((0, false)),
        Err(AtoiError::Range) => Err(UserError::Range { value: s.to_owned() }),
        Ok(id) if !(0..=MAX_ID).contains(&id) => Err(UserError::Range { value: s.to_owned() }),
        Ok(id) => Ok((id, true)),
    }
}

/// Go's `parseLine` field rule for numbers: `Atoi` with errors ignored (0).
fn lenient_int(s: &str) -> i64 {
    go_atoi(s).unwrap_or(0)
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: i64,
    gid: i64,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: i64,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|line| {
        let mut f = line.split(':');
        let name = f.next().unwrap_or("");
        let _password = f.next();
        let uid = f.next().map_or(0, lenient_int);
        let gid = f.next().map_or(0, lenient_int);
        PasswdEntry { name, uid, gid }
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(|line| {
        let mut f = line.split(':');
        let name = f.next().unwrap_or("");
        let _password = f.next();
        let gid = f.next().map_or(0, lenient_int);
        let members = match f.next() {
            Some("") | None => Vec::new(),
            Some(list) => list.split(',').collect(),
        };
        GroupEntry { name, gid, members }
    })
}

/// moby/sys/user's `GetExecUser` with root defaults; `passwd`/`group` are `None` when the file is absent.
fn exec_user(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<Ids, UserError> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let (uid_arg, is_uid) = parse_numeric(user_arg)?;
    let (gid_arg, is_gid) = parse_numeric(group_arg)?;

    let (mut uid, mut gid) = (0i64, 0i64);
    let mut additional = Vec::new();
    let matched = passwd.and_then(|text| {
        passwd_entries(text).find(|u| {
            if user_arg.is_empty() {
                u.uid == 0
            } else if is_uid {
                u.uid == uid_arg
            } else {
                u.name == user_arg
            }
        })
    });
    let matched_name = match &matched {
        Some(entry) => {
            uid = entry.uid;
            gid = entry.gid;
            entry.name
        }
        None => {
            if !user_arg.is_empty() {
                if !is_uid {
                    return Err(UserError::NoUser { user: user_arg.to_owned() });
                }
                uid = uid_arg;
            }
            ""
        }
    };

    if !group_arg.is_empty() || !matched_name.is_empty() {
        let groups: Vec<GroupEntry<'_>> = group
            .map(|text| {
                group_entries(text)
                    .filter(|g| {
                        if group_arg.is_empty() {
                            g.members.contains(&matched_name)
                        } else if is_gid {
                            g.gid == gid_arg
                        } else {
                            g.name == group_arg
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !group_arg.is_empty() {
            match groups.first() {
                Some(g) => gid = g.gid,
                None if !is_gid => return Err(UserError::NoGroup { group: group_arg.to_owned() }),
                None => gid = gid_arg,
            }
        } else {
            additional = groups.iter().map(|g| g.gid).collect();
        }
    }
    // Entries with ids outside u32 come from broken files; Go keeps them as ints and the kernel refuses
    // them later. Clamp to the same "invalid" value the kernel would reject (-1 as u32).
    let id = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(Ids { uid: id(uid), gid: id(gid), additional_gids: additional.into_iter().map(id).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingSys;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        app:x:1000:1000:app:/home/app:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        bin:x:2:2::/bin:\n";
    const GROUP: &str =
        "root:x:0:\n# comment\nwheel:x:10:app,root\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n";

    fn ids(uid: u32, gid: u32, additional: &[u32]) -> Ids {
        Ids { uid, gid, additional_gids: additional.to_vec() }
    }

    fn fake_root(passwd: Option<&str>, group: Option<&str>) -> RecordingSys {
        let sys = RecordingSys::new();
        sys.add_dir("/rootfs/etc", 0o755);
        if let Some(p) = passwd {
            sys.add_file("/rootfs/etc/passwd", p.as_bytes(), 0o644);
        }
        if let Some(g) = group {
            sys.add_file("/rootfs/etc/group", g.as_bytes(), 0o644);
        }
        sys
    }

    fn resolve(spec: &str) -> Result<Ids, UserError> {
        resolve_user_with(&fake_root(Some(PASSWD), Some(GROUP)), Path::new("/rootfs"), spec)
    }

    #[test]
    fn names_and_numbers_follow_buildkit() {
        assert_eq!(resolve("").unwrap(), ids(0, 0, &[0, 10]));
        assert_eq!(resolve("root").unwrap(), ids(0, 0, &[0, 10]));
        assert_eq!(resolve("app").unwrap(), ids(1000, 1000, &[1000, 10, 50]));
        assert_eq!(resolve("1000").unwrap(), ids(1000, 1000, &[1000, 10, 50]));
        assert_eq!(resolve("app:staff").unwrap(), ids(1000, 50, &[50]));
        assert_eq!(resolve("app:7").unwrap(), ids(1000, 7, &[7]));
        assert_eq!(resolve("4242").unwrap(), ids(4242, 0, &[0]));
        assert_eq!(resolve("nobody").unwrap(), ids(65534, 65534, &[65534]));
    }

    #[test]
    fn numeric_pairs_skip_the_files() {
        let sys = fake_root(None, None);
        assert_eq!(
            resolve_user_with(&sys, Path::new("/rootfs"), "1000:1000").unwrap(),
            ids(1000, 1000, &[1000])
        );
        assert_eq!(resolve_user_with(&sys, Path::new("/rootfs"), "root:root").unwrap(), ids(0, 0, &[0]));
        assert!(sys.calls().iter().all(|c| !c.contains("passwd")), "{:?}", sys.calls());
    }

    #[test]
    fn unknown_names_are_errors_with_buildkit_wording() {
        assert_eq!(
            resolve("ghost").unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("app:ghosts").unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert!(matches!(resolve("99999999999").unwrap_err(), UserError::Range { .. }));
        assert!(matches!(resolve("-1").unwrap_err(), UserError::Range { .. }));
    }

    #[test]
    fn missing_files_allow_numbers_and_default_to_root() {
        let sys = fake_root(None, None);
        let r = |spec| resolve_user_with(&sys, Path::new("/rootfs"), spec);
        assert_eq!(r("").unwrap(), ids(0, 0, &[0]));
        assert_eq!(r("1000").unwrap(), ids(1000, 0, &[0]));
        assert_eq!(r("1000:5").unwrap(), ids(1000, 5, &[5]));
        assert!(matches!(r("app").unwrap_err(), UserError::NoUser { .. }));
    }

    #[test]
    fn passwd_behind_a_symlink_is_read_inside_the_root() {
        let sys = fake_root(None, Some(GROUP));
        sys.add_dir("/rootfs/data", 0o755);
        sys.add_file("/rootfs/data/passwd", PASSWD.as_bytes(), 0o644);
        sys.add_symlink("/rootfs/etc/passwd", "../../../data/passwd");
        assert_eq!(resolve_user_with(&sys, Path::new("/rootfs"), "app").unwrap().uid, 1000);
    }

    #[test]
    fn go_numeric_parsing_quirks() {
        assert_eq!(go_atoi("+5"), Ok(5));
        assert_eq!(go_atoi("007"), Ok(7));
        assert_eq!(go_atoi("0x10"), Err(AtoiError::Syntax));
        assert_eq!(go_atoi(""), Err(AtoiError::Syntax));
        assert_eq!(go_atoi("99999999999999999999"), Err(AtoiError::Range));
        assert_eq!(parse_uid_gid("+1:2"), None);
        assert_eq!(parse_uid_gid("1:2:3"), None);
    }
}
