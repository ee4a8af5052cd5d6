//! End-to-end runs on busybox: output, exit codes, identity, and exactly what lands in the upper directory.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kiln_sandbox::{BindAccess, EtcFile, ExitStatus, Mount, Network, Rootfs, RunSpec, SandboxError, User};

use crate::need_sandbox;
use crate::support::{Fixture, busybox, tree};

/// What a run on the busybox rootfs always leaves: `dev`, `proc` and `sys` did not exist (kept, as runc keeps
/// them under BuildKit) and `/etc` was copied up when the resolv.conf/hosts placeholders were made (they are
/// removed again; the directory keeps its original timestamps).
const RUN_LEFTOVERS: &[&str] = &["dev/", "etc/", "proc/", "sys/"];

fn upper_without_leftovers(f: &Fixture) -> Vec<String> {
    tree(&f.upper()).into_iter().filter(|e| !RUN_LEFTOVERS.contains(&e.as_str())).collect()
}

#[test]
fn output_is_streamed_in_order_and_the_command_is_pid_1() {
    need_sandbox!();
    let f = Fixture::new();
    let lines = f.ok(&f.sh("echo hello; echo $$; echo to-stderr >&2; hostname; printf 'no newline'"));
    assert_eq!(lines, ["hello", "1", "to-stderr", "buildkitsandbox", "no newline"]);
    assert_eq!(tree(&f.upper()), RUN_LEFTOVERS);
    let lower_etc = std::fs::metadata(busybox().join("etc")).unwrap();
    let upper_etc = std::fs::metadata(f.upper().join("etc")).unwrap();
    assert_eq!(
        (upper_etc.mtime(), upper_etc.mtime_nsec()),
        (lower_etc.mtime(), lower_etc.mtime_nsec()),
        "/etc gets its timestamps back after the placeholders are removed"
    );
}

#[test]
fn exit_codes_are_propagated() {
    need_sandbox!();
    let f = Fixture::new();
    let (result, _) = f.run(&f.sh("exit 3"));
    assert_eq!(result.unwrap().status, ExitStatus::Code(3));
    let (result, _) = f.run(&f.sh("sh -c 'kill -9 $$'; exit $?"));
    assert_eq!(result.unwrap().status, ExitStatus::Code(137), "a child killed by a signal, as sh reports it");
}

#[test]
fn writes_land_in_the_upper_directory_and_deletions_become_whiteouts() {
    need_sandbox!();
    let f = Fixture::new();
    f.ok(&f.sh(
        "echo data > /newfile && mkdir -p /a/b && echo x > /a/b/c && rm /bin/cat && echo more >> /etc/passwd",
    ));
    assert_eq!(
        upper_without_leftovers(&f),
        ["a/", "a/b/", "a/b/c", "bin/", "bin/cat (char 0/0)", "etc/passwd", "newfile"]
    );
    assert_eq!(std::fs::read_to_string(f.upper().join("newfile")).unwrap(), "data\n");
    assert!(busybox().join("bin/cat").exists(), "the lower directory is untouched");
    assert!(!busybox().join("newfile").exists());
    assert!(!std::fs::read_to_string(busybox().join("etc/passwd")).unwrap().contains("more"));
}

#[test]
fn env_user_and_workdir_are_applied() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec = f.sh("echo $FOO; id; pwd; touch mine; umask");
    spec.env.push("FOO=bar baz".into());
    spec.user = User::Spec("app".into());
    spec.cwd = "/work/dir".into();
    let lines = f.ok(&spec);
    assert_eq!(
        lines,
        ["bar baz", "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)", "/work/dir", "0022"]
    );
    // The working directory did not exist: created like BuildKit does, owned by the user, and kept.
    for dir in ["work", "work/dir"] {
        let meta = std::fs::metadata(f.upper().join(dir)).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1000, 1000, 0o755), "{dir}");
    }
    assert_eq!(std::fs::metadata(f.upper().join("work/dir/mine")).unwrap().uid(), 1000);
}

#[test]
fn numeric_users_and_unknown_names() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec = f.sh("id");
    spec.user = User::Spec("4242:77".into());
    assert_eq!(f.ok(&spec), ["uid=4242 gid=77 groups=77"]);
    spec.user = User::Spec("ghost".into());
    let err = f.run(&spec).0.unwrap_err();
    assert!(
        err.to_string().contains("unable to find user ghost: no matching entries in passwd file"),
        "{err}"
    );
}

#[test]
fn network_none_has_only_loopback_and_it_is_up() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec = f.sh("ls /sys/class/net; cat /sys/class/net/lo/flags");
    spec.network = Network::None;
    assert_eq!(f.ok(&spec), ["lo", "0x9"], "IFF_UP|IFF_LOOPBACK");
}

#[test]
fn injected_etc_files_are_visible_read_only_and_not_captured() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec =
        f.sh("cat /etc/hosts /etc/resolv.conf /etc/hostname; echo x >> /etc/hosts || echo refused");
    spec.etc.resolv_conf = EtcFile::Contents(b"nameserver 192.0.2.1\n".to_vec());
    spec.etc.hostname = EtcFile::Contents(b"buildkitsandbox\n".to_vec());
    let lines = f.ok(&spec);
    assert_eq!(
        lines,
        [
            "127.0.0.1\tlocalhost buildkitsandbox",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "nameserver 192.0.2.1",
            "buildkitsandbox",
            "/bin/sh: can't create /etc/hosts: Read-only file system",
            "refused"
        ]
    );
    assert_eq!(tree(&f.upper()), RUN_LEFTOVERS, "no resolv.conf, hosts or hostname in the upper directory");
}

#[test]
fn tmpfs_bind_and_secret_mounts_work_and_leave_nothing() {
    need_sandbox!();
    let f = Fixture::new();
    let context = f.dir.path().join("context");
    std::fs::create_dir_all(context.join("sub")).unwrap();
    std::fs::write(context.join("sub/file"), "from the context\n").unwrap();
    let cache = f.dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let mut spec = f.sh(
        "cat /ctx/sub/file; touch /ctx/x 2>/dev/null || echo ro; echo cached > /var/cache/app/hit; \
         touch /scratch/y && ls /scratch; echo t > /mnt/t/file && cat /mnt/t/file; \
         cat /run/secrets/token; echo; stat -c '%a %u %g' /run/secrets/token; grep -c ' /mnt/t tmpfs' /proc/mounts",
    );
    spec.mounts = vec![
        Mount::Bind { source: context.clone(), target: "/ctx".into(), access: BindAccess::ReadOnly },
        Mount::Bind { source: cache.clone(), target: "/var/cache/app".into(), access: BindAccess::ReadWrite },
        Mount::Bind { source: context.join("sub"), target: "/scratch".into(), access: BindAccess::Scratch },
        Mount::Tmpfs { target: "/mnt/t".into(), size: Some(1 << 20) },
        Mount::File {
            target: "/run/secrets/token".into(),
            contents: b"s3cret".to_vec(),
            mode: 0o400,
            uid: 1000,
            gid: 10,
        },
    ];
    let lines = f.ok(&spec);
    assert_eq!(lines, ["from the context", "ro", "file", "y", "t", "s3cret", "400 1000 10", "1"]);
    assert_eq!(
        std::fs::read_to_string(cache.join("hit")).unwrap(),
        "cached\n",
        "read-write binds keep writes"
    );
    assert!(!context.join("sub/y").exists(), "scratch binds discard writes");
    // Mount points that did not exist are removed again and the secret is nowhere in the upper directory;
    // /var existed, so making /var/cache copied it up (as under BuildKit), with its timestamps restored.
    assert_eq!(upper_without_leftovers(&f), ["var/"]);
    let (lower_var, upper_var) = (
        std::fs::metadata(busybox().join("var")).unwrap(),
        std::fs::metadata(f.upper().join("var")).unwrap(),
    );
    assert_eq!(upper_var.mtime_nsec(), lower_var.mtime_nsec());
}

#[test]
fn a_hundred_lower_directories_stack_top_first() {
    need_sandbox!();
    let f = Fixture::new();
    let layers = f.dir.path().join("layers");
    let mut lower: Vec<PathBuf> = (0..100)
        .map(|i| {
            let dir = layers.join(format!("layer-with-a-long-name-to-overflow-the-option-page-{i:03}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("which"), format!("{i}\n")).unwrap();
            std::fs::write(dir.join(format!("only-{i}")), "").unwrap();
            dir
        })
        .collect();
    lower.push(busybox().to_path_buf());
    let total: usize = lower.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(total > 4096, "the test must not fit in mount(2)'s option page ({total} bytes)");
    let mut spec = f.sh("cat /which; ls / | grep -c only-");
    spec.rootfs = f.overlay(lower);
    assert_eq!(f.ok(&spec), ["0", "100"]);
}

#[test]
fn from_scratch_with_a_bound_static_binary() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec =
        RunSpec::new(f.overlay(Vec::new()), vec!["/busybox".into(), "echo".into(), "from scratch".into()]);
    spec.mounts.push(Mount::Bind {
        source: busybox().join("bin/busybox"),
        target: "/busybox".into(),
        access: BindAccess::ReadOnly,
    });
    assert_eq!(f.ok(&spec), ["from scratch"]);
    assert_eq!(
        tree(&f.upper()),
        ["dev/", "proc/", "sys/"],
        "the placeholders for /busybox and /etc are gone"
    );
}

#[test]
fn a_plain_directory_rootfs_is_changed_in_place_and_cleaned() {
    need_sandbox!();
    let f = Fixture::new();
    let rootfs = f.dir.path().join("rootfs");
    kiln_test::busybox_rootfs(&rootfs).unwrap();
    let before = tree(&rootfs);
    let mut spec = f.sh("touch /made-here");
    spec.rootfs = Rootfs::Dir(rootfs.clone());
    spec.mounts.push(Mount::Tmpfs { target: "/a/b".into(), size: None });
    f.ok(&spec);
    let mut expected = before;
    expected.extend(["dev/".to_owned(), "made-here".to_owned(), "proc/".to_owned(), "sys/".to_owned()]);
    expected.sort();
    assert_eq!(tree(&rootfs), expected, "only the command's file and the kept mount points were added");
}

#[test]
fn exec_errors_name_the_program() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec = f.sh("");
    spec.argv = vec!["no-such-program".into()];
    let err = f.run(&spec).0.unwrap_err();
    assert!(matches!(err, SandboxError::NotFound { .. }), "{err}");
    assert_eq!(err.to_string(), "exec \"no-such-program\": executable file not found in $PATH");
    spec.argv = vec!["/etc/passwd".into()];
    let err = f.run(&spec).0.unwrap_err();
    assert_eq!(err.to_string(), "exec /etc/passwd: Permission denied (os error 13)");
    assert_eq!(tree(&f.upper()), RUN_LEFTOVERS);
}

#[test]
fn setup_errors_name_the_step_and_the_path() {
    need_sandbox!();
    let f = Fixture::new();
    let mut spec = f.sh("true");
    spec.cwd = "/etc/passwd/sub".into();
    let err = f.run(&spec).0.unwrap_err().to_string();
    assert!(
        err.contains("the working directory /etc/passwd/sub")
            && err.contains("/etc/passwd is not a directory"),
        "{err}"
    );
    let mut spec = f.sh("true");
    spec.rootfs = f.overlay(vec![Path::new("/nonexistent-lower").to_path_buf()]);
    let err = f.run(&spec).0.unwrap_err().to_string();
    assert!(err.contains("/nonexistent-lower") && err.contains("No such file or directory"), "{err}");
}

#[test]
fn a_read_only_view_of_the_layers_resolves_users_like_a_run() {
    need_sandbox!();
    let f = Fixture::new();
    let top = f.dir.path().join("top");
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::fs::write(top.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nbuilder:x:2000:2001::/home:/bin/sh\n")
        .unwrap();
    let lower = vec![top, busybox().to_path_buf()];
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (ids, shell_seen) = f
        .sandbox
        .with_view(&lower, |root| {
            (kiln_sandbox::resolve_user(root, "builder").unwrap(), root.join("bin/sh").exists())
        })
        .unwrap();
    assert_eq!((ids.uid, ids.gid), (2000, 2001));
    assert!(shell_seen, "the lower layers show through");
    assert_eq!(std::fs::read_to_string("/proc/self/mountinfo").unwrap(), before);
}

#[test]
fn parallel_runs_share_the_scratch_directory_without_interfering() {
    need_sandbox!();
    let f = Fixture::new();
    let uppers: Vec<(PathBuf, PathBuf)> = (0..4)
        .map(|i| {
            let (u, w) = (f.dir.path().join(format!("up{i}")), f.dir.path().join(format!("wk{i}")));
            std::fs::create_dir(&u).unwrap();
            std::fs::create_dir(&w).unwrap();
            (u, w)
        })
        .collect();
    std::thread::scope(|s| {
        for (i, (upper, work)) in uppers.iter().enumerate() {
            let f = &f;
            s.spawn(move || {
                let mut spec = f.sh(&format!("echo {i} > /mine; sleep 0.2; cat /mine"));
                spec.rootfs = Rootfs::Overlay {
                    lower: vec![busybox().to_path_buf()],
                    upper: upper.clone(),
                    work: work.clone(),
                };
                assert_eq!(f.ok(&spec), [i.to_string()]);
            });
        }
    });
    for (i, (upper, _)) in uppers.iter().enumerate() {
        assert_eq!(std::fs::read_to_string(upper.join("mine")).unwrap(), format!("{i}\n"));
    }
}

#[test]
fn a_bind_source_behind_a_symlink_is_followed() {
    need_sandbox!();
    let f = Fixture::new();
    let dir = f.dir.path().join("real");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), "via link\n").unwrap();
    let link = f.dir.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let mut spec = f.sh("cat /data/f");
    spec.mounts.push(Mount::Bind { source: link, target: "/data".into(), access: BindAccess::ReadOnly });
    assert_eq!(f.ok(&spec), ["via link"]);
}

#[test]
fn signals_start_clean_and_the_command_leads_its_session() {
    need_sandbox!();
    let f = Fixture::new();
    // The test harness (like any Rust program) ignores SIGPIPE; the command must not inherit that. Fields 5
    // and 6 of /proc/self/stat are the process group and session: PID 1's, as under runc.
    let lines = f.ok(&f.sh("grep -E 'SigIgn|SigBlk' /proc/self/status; cut -d' ' -f5-6 /proc/self/stat"));
    assert_eq!(lines, ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000", "1 1"]);
    let lines = f.ok(&f.sh("yes | head -n 1; echo done"));
    assert_eq!(lines, ["y", "done"], "yes dies of SIGPIPE quietly");
}

#[test]
fn a_unix_socket_can_be_bound_in_like_an_ssh_agent() {
    need_sandbox!();
    let f = Fixture::new();
    let socket = f.dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let mut spec = f.sh("test -S /run/buildkit/ssh_agent.0 && echo socket");
    spec.mounts.push(Mount::Bind {
        source: socket,
        target: "/run/buildkit/ssh_agent.0".into(),
        access: BindAccess::ReadWrite,
    });
    assert_eq!(f.ok(&spec), ["socket"]);
    assert_eq!(upper_without_leftovers(&f), Vec::<String>::new(), "/run/buildkit was a placeholder, removed");
}
