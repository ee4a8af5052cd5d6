//! Unit tests of [`crate::Sandbox::run`] against [`RecordingSys`]: the exact call sequence of a typical run,
//! and a failure injected at every step, each of which must give an error naming the step and its path and
//! leave no mount, no open descriptor, no placeholder and no run directory behind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::sys::{Errno, ExitStatus, RecordingSys};
use crate::{Rootfs, RunOutcome, RunSpec, Sandbox, SandboxError, User};

/// A fake host with a small rootfs in `/lower` and an empty `/upper` and `/work`.
fn fake() -> Arc<RecordingSys> {
    let sys = RecordingSys::with_host();
    sys.add_file("/lower/bin/sh", b"\x7fELF", 0o755);
    sys.add_file("/lower/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644);
    sys.add_file("/lower/etc/group", b"root:x:0:\n", 0o644);
    sys.add_dir("/lower/tmp", 0o1777);
    sys.add_dir("/upper", 0o755);
    sys.add_dir("/work", 0o755);
    sys.add_dir("/scratch", 0o755);
    sys.set_exec_result(b"hello\nworld\n", 0);
    Arc::new(sys)
}

fn spec() -> RunSpec {
    let rootfs =
        Rootfs::Overlay { lower: vec!["/lower".into()], upper: "/upper".into(), work: "/work".into() };
    let mut spec = RunSpec::new(rootfs, vec!["sh".into(), "-c".into(), "echo hello".into()]);
    spec.env = vec!["PATH=/usr/bin:/bin".into()];
    spec.cwd = "/app".into();
    spec
}

fn run(
    sys: &Arc<RecordingSys>,
    spec: &RunSpec,
    cancel: bool,
) -> (Result<RunOutcome, SandboxError>, Vec<String>) {
    let sandbox = Sandbox::new(sys.clone(), "/scratch");
    let mut lines = Vec::new();
    let cancel = AtomicBool::new(cancel);
    let result =
        sandbox.run(spec, &cancel, &mut |l: &[u8]| lines.push(String::from_utf8_lossy(l).into_owned()));
    (result, lines)
}

/// The recorded calls.
fn calls(sys: &RecordingSys) -> Vec<String> {
    sys.calls()
}

/// Nothing of the run may remain: mounts, descriptors, run directories, placeholders.
fn assert_clean(sys: &RecordingSys, context: &str) {
    assert_clean_but_upper(sys, context);
    assert_no_stubs(sys, context);
}

/// [`assert_clean`] without looking at the upper directory.
fn assert_clean_but_upper(sys: &RecordingSys, context: &str) {
    assert_eq!(sys.mounts(), Vec::<String>::new(), "mounts left after {context}");
    assert_eq!(sys.open_fds(), Vec::<i32>::new(), "descriptors left after {context}");
    let scratch = sys.tree("/scratch");
    assert!(
        scratch.is_empty() || scratch == ["d mnt"],
        "files left in the scratch directory after {context}: {scratch:?}"
    );
}

/// No placeholder in the upper directory.
fn assert_no_stubs(sys: &RecordingSys, context: &str) {
    let upper = sys.tree("/upper");
    for stub in ["etc/resolv.conf", "etc/hosts"] {
        assert!(
            !upper.iter().any(|e| e.contains(stub)),
            "{stub} left in the upper directory after {context}: {upper:?}"
        );
    }
}

#[test]
fn a_typical_run_makes_exactly_these_calls() {
    let sys = fake();
    let (result, lines) = run(&sys, &spec(), false);
    let outcome = result.unwrap();
    assert_eq!(outcome.status, ExitStatus::Code(0));
    assert_eq!(lines, ["hello", "world"]);
    assert_eq!(outcome.removed_stubs, [Path::new("etc/hosts"), Path::new("etc/resolv.conf")]);
    assert_eq!(outcome.created, [Path::new("app"), Path::new("proc"), Path::new("dev"), Path::new("sys")]);
    assert_clean(&sys, "a typical run");
    assert_eq!(sys.tree("/upper"), ["d app", "d dev", "d etc", "d proc", "d sys"]);
    assert_eq!(sys.mtime("/upper/etc"), sys.mtime("/lower/etc"), "/etc gets its timestamps back");
    insta::assert_snapshot!(calls(&sys).join("\n"));
}

#[test]
fn a_failure_at_any_step_names_it_and_leaves_nothing() {
    let reference = fake();
    run(&reference, &spec(), false).0.unwrap();
    let all = calls(&reference);
    let exec = all.iter().position(|c| c.starts_with("[child] execve(")).unwrap();
    let mut failed = 0;
    for (index, call) in all.iter().enumerate() {
        let sys = fake();
        sys.fail_call(index, Errno::PERM);
        let (result, _) = run(&sys, &spec(), false);
        let context = format!("failing call {index}: {call}");
        if call.starts_with("umount(") {
            // The kernel reclaims a mount left by a failed unmount when the setup thread's namespace dies;
            // the fake cannot, so only the error is checked.
            let err = result.expect_err(&context).to_string();
            assert!(err.contains("unmount"), "{context}: {err}");
            continue;
        }
        assert_clean_but_upper(&sys, &context);
        let cleaning_up = index > all.iter().position(|c| c.starts_with("umount(")).unwrap();
        if !(cleaning_up && result.is_err()) {
            // A placeholder that could not be removed fails the run instead of reaching the layer.
            assert_no_stubs(&sys, &context);
        }
        let must_fail = index <= exec && !is_tolerated(call);
        match result {
            Ok(outcome) => assert!(!must_fail, "{context}: the run succeeded with {outcome:?}"),
            Err(err) => {
                failed += 1;
                let message = err.to_string();
                if let Some(name) = named_path(call) {
                    assert!(
                        message.contains(&name),
                        "{context}: the error does not name {name:?}: {message}"
                    );
                }
            }
        }
    }
    assert!(failed > 100, "only {failed} of {} injected failures failed the run", all.len());
}

/// Calls whose failure the sandbox deliberately survives.
fn is_tolerated(call: &str) -> bool {
    let call = call.trim_start_matches("[child] ");
    call.starts_with("close(") || call.starts_with("umask(") || call.starts_with("write(")
        // The timestamps of a placeholder's parent are best effort.
        || call.starts_with("lstat(") && STUB_PARENT_LSTATS.iter().any(|p| call.starts_with(p))
        || call.starts_with("read_file(/scratch/mnt/rootfs/etc/")
}

/// `lstat`s of directories that receive placeholders, made only to restore their times afterwards.
/// (`lstat(/scratch/mnt)` only decides whether the mount point must be created; the default user falls
/// back to root when `/etc/passwd` or `/etc/group` cannot be read, as under BuildKit.)
const STUB_PARENT_LSTATS: &[&str] = &[
    "lstat(/scratch/mnt)",
    "lstat(/scratch/mnt/rootfs)",
    "lstat(/scratch/mnt/rootfs/etc)",
    "lstat(/scratch/mnt/rootfs/etc/passwd)",
    "lstat(/scratch/mnt/rootfs/etc/group)",
];

/// The file name of the path a call is about (the mount target for `mount`, the link for `symlink`).
fn named_path(call: &str) -> Option<String> {
    let call = call.trim_start_matches("[child] ");
    let (name, args) = call.split_once('(')?;
    let args: Vec<&str> = args.trim_end_matches(')').split(", ").collect();
    let arg = match name {
        "mount" | "symlink" => args.get(1)?,
        _ => args.iter().find(|a| a.starts_with('/'))?,
    };
    Path::new(arg).file_name().map(|n| n.to_string_lossy().into_owned())
}

#[test]
fn a_child_failure_is_reported_with_its_step_not_a_bare_errno() {
    let sys = fake();
    sys.fail_when("[child] mount(proc", Errno::PERM);
    let err = run(&sys, &spec(), false).0.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "sandbox setup failed: mount proc at /proc: Operation not permitted (os error 1) (kiln runs"
        ),
        "{err}"
    );
    assert_clean(&sys, "a failed proc mount");
}

#[test]
fn a_missing_program_is_named() {
    let sys = fake();
    let mut spec = spec();
    spec.argv[0] = "missing".into();
    let err = run(&sys, &spec, false).0.unwrap_err();
    assert_eq!(err.to_string(), "exec \"missing\": executable file not found in $PATH");
    let tried: Vec<String> = calls(&sys).into_iter().filter(|c| c.contains("execve(")).collect();
    assert_eq!(tried.len(), 2, "one attempt per PATH directory: {tried:?}");
    assert_clean(&sys, "a missing program");
}

#[test]
fn cancelling_kills_the_child_and_cleans_up() {
    let sys = fake();
    let err = run(&sys, &spec(), true).0.unwrap_err();
    assert!(matches!(err, SandboxError::Cancelled), "{err}");
    assert!(calls(&sys).iter().any(|c| c.starts_with("kill(")), "{:?}", calls(&sys));
    assert_clean(&sys, "a cancelled run");
}

#[test]
fn rootless_is_refused_before_touching_anything() {
    let sys = fake();
    sys.set_euid(1000);
    let err = run(&sys, &spec(), false).0.unwrap_err();
    assert!(matches!(err, SandboxError::NotRoot { uid: 1000 }), "{err}");
    assert!(err.to_string().contains("rootless"), "{err}");
    assert_eq!(calls(&sys), Vec::<String>::new());
}

#[test]
fn old_kernels_get_the_legacy_overlay_mount() {
    let sys = fake();
    sys.fail_when("fsopen(overlay)", Errno::NOSYS);
    run(&sys, &spec(), false).0.unwrap();
    assert!(
        calls(&sys).iter().any(|c| c.contains(
            "mount(overlay, /scratch/mnt/rootfs, overlay, 0, \
             lowerdir=/lower,upperdir=/upper,workdir=/work,index=off,redirect_dir=off,metacopy=off,volatile)"
        )),
        "{:?}",
        calls(&sys)
    );
    assert_clean(&sys, "a legacy overlay mount");
}

#[test]
fn kernels_without_volatile_overlays_mount_without_it() {
    let sys = fake();
    sys.fail_when("fsconfig(101, volatile)", Errno::INVAL);
    run(&sys, &spec(), false).0.unwrap();
    assert!(calls(&sys).iter().any(|c| c == "move_mount(102, /scratch/mnt/rootfs)"), "{:?}", calls(&sys));
    assert_clean(&sys, "an overlay without volatile");

    let sys = fake();
    sys.fail_when("fsopen(overlay)", Errno::NOSYS);
    sys.fail_when("metacopy=off,volatile)", Errno::INVAL);
    run(&sys, &spec(), false).0.unwrap();
    let legacy: Vec<String> = calls(&sys).into_iter().filter(|c| c.starts_with("mount(overlay")).collect();
    assert_eq!(legacy.len(), 2, "{legacy:?}");
    assert!(legacy[1].ends_with("index=off,redirect_dir=off,metacopy=off)"), "{legacy:?}");
    assert_clean(&sys, "a legacy overlay mount without volatile");
}

#[test]
fn an_unreadable_passwd_is_reported_for_a_named_user() {
    let sys = fake();
    sys.fail_when("read_file(/scratch/mnt/rootfs/etc/passwd", Errno::IO);
    let mut spec = spec();
    spec.user = User::Spec("app".into());
    let err = run(&sys, &spec, false).0.unwrap_err().to_string();
    assert!(
        err.starts_with("resolving USER \"app\" in the rootfs: reading /scratch/mnt/rootfs/etc/passwd"),
        "{err}"
    );
    assert!(err.ends_with("/rootfs/etc/passwd: Input/output error (os error 5)"), "{err}");
    assert_clean(&sys, "an unreadable passwd");
}

#[test]
fn users_and_network_none_reach_the_child() {
    let sys = fake();
    sys.add_file(
        "/lower/etc/passwd",
        b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0o644,
    );
    let mut spec = spec();
    spec.user = User::Spec("app".into());
    spec.network = crate::Network::None;
    run(&sys, &spec, false).0.unwrap();
    let calls = calls(&sys);
    for expected in [
        "clone(NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET)",
        "[child] loopback_up()",
        "[child] setgroups([1000])",
        "[child] setresgid(1000)",
        "[child] setresuid(1000)",
        "chown(/scratch/mnt/rootfs/app, 1000, 1000)",
    ] {
        assert!(calls.iter().any(|c| c == expected), "missing {expected}: {calls:#?}");
    }
}

#[test]
fn a_view_mounts_a_read_only_overlay_in_a_private_namespace() {
    let sys = fake();
    sys.add_dir("/top", 0o755);
    let sandbox = Sandbox::new(sys.clone(), "/scratch");
    let seen = sandbox.with_view(&["/top".into(), "/lower".into()], |root| root.to_path_buf()).unwrap();
    assert_eq!(seen, Path::new("/scratch/mnt/view"));
    let calls = calls(&sys);
    for expected in [
        "unshare(FS|NEWNS)",
        "fsconfig(101, lowerdir+, /top)",
        "fsconfig(101, lowerdir+, /lower)",
        "umount(/scratch/mnt, DETACH)",
    ] {
        assert!(calls.iter().any(|c| c == expected), "missing {expected}: {calls:#?}");
    }
    assert!(!calls.iter().any(|c| c.contains("upperdir")), "a view is read-only: {calls:#?}");
    assert_clean(&sys, "a view");
    let single = sandbox.with_view(&["/lower".into()], |root| root.to_path_buf()).unwrap();
    assert_eq!(single, Path::new("/lower"), "one layer needs no mount");
}
