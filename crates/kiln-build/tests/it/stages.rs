//! Multi-stage builds, the cache, reproducibility, failures and cancellation.

use crate::harness::{Fixture, read};
use crate::need_root;
use kiln_build::{BuildEvent, StepKind};

#[test]
fn multi_stage_to_scratch_with_a_static_binary() {
    need_root!();
    let f = Fixture::new();
    let built = f.build(
        "FROM busybox AS tools\n\
         RUN mkdir -p /out && cp /bin/busybox /out/busybox\n\
         FROM scratch\n\
         COPY --from=tools /out/busybox /bin/busybox\n\
         ENTRYPOINT [\"/bin/busybox\", \"echo\"]\n\
         CMD [\"from scratch\"]\n",
    );
    let r = f.rootfs(&built);
    let entries: Vec<_> = std::fs::read_dir(&r).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["bin"], "the scratch image holds only what was copied");
    assert_eq!(built.config().rootfs.diff_ids.len(), 1);
    // The static binary runs on its own in a fresh build from the result.
    let tagged = f.store.tag(
        &kiln_oci::ImageLocation::StoreId(built.output.image.id.hex().to_owned()),
        &kiln_oci::Reference::parse("static:1").unwrap(),
    );
    tagged.unwrap();
    let built =
        f.build("FROM static:1\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo ok > /ran\"]\n");
    assert_eq!(read(&f.rootfs(&built), "ran"), "ok\n");
}

#[test]
fn target_builds_only_what_it_needs() {
    need_root!();
    let f = Fixture::new();
    let df = "FROM busybox AS a\nRUN echo a > /a\n\
              FROM busybox AS unused\nRUN echo unused > /u\n\
              FROM busybox AS b\nCOPY --from=a /a /a\nRUN echo b > /b\n\
              FROM busybox AS final\nRUN echo final\n";
    let req = f.request(df, |o| o.target = Some("b".into()));
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let ran: Vec<String> = built
        .events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Started { step, .. } if step.kind == StepKind::Run => Some(step.stage.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ran, ["a", "b"], "neither `unused` nor `final` ran");
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "a"), "a\n");
    assert_eq!(read(&r, "b"), "b\n");
}

#[test]
fn independent_stages_run_at_the_same_time() {
    need_root!();
    let f = Fixture::new();
    let built = f.build(
        "FROM busybox AS one\nRUN date +%s > /start && sleep 2 && date +%s > /end\n\
         FROM busybox AS two\nRUN date +%s > /start && sleep 2 && date +%s > /end\n\
         FROM busybox\n\
         COPY --from=one /start /one-start\nCOPY --from=one /end /one-end\n\
         COPY --from=two /start /two-start\nCOPY --from=two /end /two-end\n",
    );
    let r = f.rootfs(&built);
    let t = |n: &str| read(&r, n).trim().parse::<i64>().unwrap();
    // The two sleeps overlap: each started before the other ended.
    assert!(
        t("one-start") < t("two-end") && t("two-start") < t("one-end"),
        "the stages ran one after the other"
    );
}

#[test]
fn an_unchanged_rebuild_runs_nothing_and_a_changed_file_reruns_only_what_follows() {
    need_root!();
    let f = Fixture::new();
    f.write("src/main.c", "int main() { return 0; }\n");
    f.write("README", "docs\n");
    let df = "FROM busybox\nRUN echo deps > /deps\nCOPY src /src\nRUN cat /src/main.c > /built\nCOPY README /README\n";
    let first = f.build(df);
    assert_eq!(first.output.runs, 2);
    let second = f.build(df);
    assert_eq!(second.output.runs, 0, "a rebuild with nothing changed executes nothing");
    assert_eq!(second.executed(), 0);
    assert!(second.output.steps.iter().all(|s| s.cached));
    assert_eq!(second.output.image.id, first.output.image.id, "and gives the same image");

    f.write("src/main.c", "int main() { return 1; }\n");
    let third = f.build(df);
    assert_eq!(third.output.runs, 1, "only the RUN after the changed COPY runs");
    let copy = third.output.steps.iter().find(|s| s.name.contains("COPY src")).unwrap();
    assert!(!copy.cached);
    assert_eq!(copy.miss_reasons, ["file src/main.c modified"]);
    let run = third.output.steps.iter().find(|s| s.name.contains("RUN cat")).unwrap();
    assert_eq!(run.miss_reasons, ["step #3 ([3/5] COPY src /src) changed"]);
    assert!(third.output.steps.iter().find(|s| s.name.contains("RUN echo")).unwrap().cached);
    assert!(third.events.iter().any(
        |e| matches!(e, BuildEvent::CacheMiss { reasons, .. } if reasons == &["file src/main.c modified"])
    ));
    assert_eq!(read(&f.rootfs(&third), "built"), "int main() { return 1; }\n");

    let req = f.request(df, |o| o.build_args = Fixture::args(&[]));
    let mut req = req;
    req.no_cache = true;
    let fourth = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(fourth.output.runs, 2, "--no-cache runs everything");
}

#[test]
fn build_args_and_env_changes_are_named() {
    need_root!();
    let f = Fixture::new();
    let df = "FROM busybox\nARG VERSION=1\nRUN echo $VERSION > /v\n";
    f.build(df);
    let req = f.request(df, |o| o.build_args = Fixture::args(&[("VERSION", "2")]));
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let run = built.output.steps.iter().find(|s| s.name.contains("RUN")).unwrap();
    assert_eq!(run.miss_reasons, ["build arg VERSION changed"]);
    assert_eq!(read(&f.rootfs(&built), "v"), "2\n");
    let h = built.config().history.last().unwrap().created_by.clone().unwrap();
    assert_eq!(h, "RUN |1 VERSION=2 /bin/sh -c echo $VERSION > /v # buildkit");
}

#[test]
fn arg_history_shows_the_declaration_not_the_build_arg_value() {
    // BuildKit (dockerd 20.10) records `ARG TOKEN` and `ARG OTHER=def` whatever --build-arg says, with a
    // default expanded (`ARG B=${OTHER}y` → `ARG B=xy`); only RUN entries list the values (`RUN |3 …`).
    need_root!();
    let f = Fixture::new();
    let df = "ARG G=g\nFROM busybox\nARG G\nARG TOKEN\nARG OTHER=def\nARG B=${OTHER}y\nRUN true\n";
    let req = f.request(df, |o| {
        o.build_args = Fixture::args(&[("TOKEN", "s3cret"), ("OTHER", "x"), ("G", "zz")]);
    });
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let history: Vec<String> =
        built.config().history.iter().skip(1).map(|h| h.created_by.clone().unwrap()).collect();
    assert_eq!(
        history,
        [
            "ARG G",
            "ARG TOKEN",
            "ARG OTHER=def",
            "ARG B=xy",
            "RUN |4 G=zz TOKEN=s3cret OTHER=x B=xy /bin/sh -c true # buildkit",
        ]
    );
}

#[test]
fn source_date_epoch_gives_the_same_digest_in_two_stores() {
    need_root!();
    let df = "FROM busybox\nRUN echo hi > /hi && mkdir /d && touch /d/f\nCOPY file /file\nENV A=b\n";
    let digests: Vec<_> = (0..2)
        .map(|_| {
            let f = Fixture::new();
            f.write("file", "same\n");
            let req = f.request(df, |o| o.build_args = Fixture::args(&[("SOURCE_DATE_EPOCH", "1700000000")]));
            let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
            assert_eq!(built.config().created.as_deref(), Some("2023-11-14T22:13:20Z"));
            std::thread::sleep(std::time::Duration::from_millis(1100));
            built.output.image.manifest_digest
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn a_failed_run_reports_where_and_why_and_leaves_nothing() {
    need_root!();
    let f = Fixture::new();
    let before = f.store.images().unwrap().len();
    let req = f.request(
        "FROM busybox AS build\nRUN echo start\nRUN echo one; echo two >&2; sleep 60 & exit 3\nRUN echo never\n",
        |_| {},
    );
    let err = f.run(&req).err().unwrap();
    let (e, events) = *err;
    let failure = e.run_failure().expect("a RUN failure");
    assert_eq!(failure.exit_code, Some(3));
    assert!(
        failure.output_tail.contains(&"one".to_owned()) && failure.output_tail.contains(&"two".to_owned())
    );
    let at = e.location().unwrap();
    assert_eq!((at.location.as_str(), at.stage.as_str()), ("Dockerfile:3", "build"));
    assert!(e.to_string().contains("did not complete successfully: exit code: 3"), "{e}");
    assert!(events.iter().any(|ev| matches!(ev, BuildEvent::Failed { .. })));
    assert_eq!(f.store.images().unwrap().len(), before, "no image was committed");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&f.dir.path().display().to_string()), "nothing stays mounted");
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).lines().any(|l| l.trim() == "sleep 60"),
        "no process is left"
    );
    // The next build works.
    f.build("FROM busybox\nRUN echo fine\n");
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    need_root!();
    let f = Fixture::new();
    f.write("input.txt", "from the child context\n");
    let parent = f
        .build("FROM busybox\nONBUILD COPY input.txt /onbuild/\nONBUILD RUN echo triggered > /onbuild/ran\n");
    assert_eq!(
        parent.config().config.on_build.as_deref(),
        Some(&["COPY input.txt /onbuild/".to_owned(), "RUN echo triggered > /onbuild/ran".to_owned()][..])
    );
    f.store
        .tag(
            &kiln_oci::ImageLocation::StoreId(parent.output.image.id.hex().to_owned()),
            &kiln_oci::Reference::parse("parent:1").unwrap(),
        )
        .unwrap();
    let child = f.build("FROM parent:1\nRUN cat /onbuild/ran\n");
    let r = f.rootfs(&child);
    assert_eq!(read(&r, "onbuild/input.txt"), "from the child context\n");
    assert_eq!(read(&r, "onbuild/ran"), "triggered\n");
    assert_eq!(child.config().config.on_build, None, "triggers are not inherited");
    // Stage bases run the triggers too.
    let staged = f.build("FROM busybox AS base\nONBUILD RUN echo x > /x\nFROM base\n");
    assert_eq!(read(&f.rootfs(&staged), "x"), "x\n");
}

#[test]
fn a_failing_stage_cancels_the_others() {
    need_root!();
    let f = Fixture::new();
    let req = f.request(
        "FROM busybox AS slow\nRUN sleep 37 && echo finished > /slow\n\
         FROM busybox AS broken\nRUN sleep 1 && exit 9\n\
         FROM busybox\nCOPY --from=slow /slow /slow\nCOPY --from=broken /etc/passwd /p\n",
        |_| {},
    );
    let (e, events) = *f.run(&req).err().unwrap();
    assert_eq!(e.run_failure().and_then(|r| r.exit_code), Some(9), "the first failure is reported: {e}");
    let slow_run = events
        .iter()
        .find_map(|ev| match ev {
            BuildEvent::Started { step, .. } if step.stage == "slow" && step.kind == StepKind::Run => {
                Some(step.id)
            }
            _ => None,
        })
        .expect("the slow stage started");
    assert!(
        !events.iter().any(|ev| matches!(ev, BuildEvent::Done { step_id, .. } if *step_id == slow_run)),
        "the slow stage was killed, not finished"
    );
    // `sleep 37`: no other test runs that command, so a match here is this build's own process.
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).lines().any(|l| l.trim() == "sleep 37"));
}

#[test]
fn cancelling_kills_the_running_command() {
    need_root!();
    let f = Fixture::new();
    let req = f.request("FROM busybox\nRUN sleep 30\n", |_| {});
    let events = std::sync::Arc::new(kiln_build::CollectEvents::default());
    let engine = f.engine(events);
    let handle = engine.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(800));
        handle.cancel();
    });
    let err = engine.build(&req).unwrap_err();
    canceller.join().unwrap();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(f.store.images().unwrap().len(), 1, "only the base image is in the store");
}

#[test]
fn no_cache_filter_reruns_only_the_named_stage() {
    need_root!();
    let f = Fixture::new();
    let df = "FROM busybox AS deps\nRUN echo deps > /d\nFROM busybox AS app\nCOPY --from=deps /d /d\nRUN echo app > /a\n";
    f.build(df);
    let mut req = f.request(df, |_| {});
    req.no_cache_filter = vec!["app".into()];
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let executed: Vec<&str> =
        built.output.steps.iter().filter(|s| !s.cached).map(|s| s.name.as_str()).collect();
    assert_eq!(executed, ["[app 2/3] COPY --from=deps /d /d", "[app 3/3] RUN echo app > /a"]);
}

#[test]
fn named_contexts_serve_copy_from_and_from() {
    need_root!();
    let f = Fixture::new();
    let extra = f.dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("note.txt"), "named\n").unwrap();
    let df = "FROM extra AS fromctx\nFROM busybox\nCOPY --from=extra note.txt /note.txt\nCOPY --from=fromctx /note.txt /via-stage\n";
    let mut req = f.request(df, |o| o.named_contexts = ["extra".to_owned()].into());
    req.named_contexts
        .insert("extra".into(), std::sync::Arc::new(kiln_context::Context::named("extra", &extra).unwrap()));
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "note.txt"), "named\n");
    assert_eq!(read(&r, "via-stage"), "named\n", "FROM a named context starts from its files");
}

#[test]
fn a_changed_base_image_is_named() {
    need_root!();
    let f = Fixture::new();
    let df = "FROM busybox\nRUN echo x > /x\n";
    f.build(df);
    // Re-import busybox with different content under the same name.
    let rootfs = f.dir.path().join("busybox-rootfs");
    std::fs::write(rootfs.join("etc/new-file"), "new").unwrap();
    kiln_store::transport::import_rootfs(
        &f.store,
        &rootfs,
        &[kiln_oci::Reference::parse("busybox").unwrap()],
        &kiln_store::transport::RootfsImport::default(),
    )
    .unwrap();
    let built = f.build(df);
    let run = built.output.steps.iter().find(|s| s.name.contains("RUN")).unwrap();
    assert_eq!(run.miss_reasons, ["the base image busybox:latest changed"]);
}

#[test]
fn copy_link_keeps_its_cache_entry_when_the_base_changes() {
    need_root!();
    let f = Fixture::new();
    f.write("app.txt", "app\n");
    let df = "FROM busybox\nCOPY --link app.txt /app/\nCOPY app.txt /plain/\n";
    f.build(df);
    let rootfs = f.dir.path().join("busybox-rootfs");
    std::fs::write(rootfs.join("etc/new-file"), "new").unwrap();
    kiln_store::transport::import_rootfs(
        &f.store,
        &rootfs,
        &[kiln_oci::Reference::parse("busybox").unwrap()],
        &kiln_store::transport::RootfsImport::default(),
    )
    .unwrap();
    let built = f.build(df);
    let cached: Vec<(bool, &str)> = built.output.steps.iter().map(|s| (s.cached, s.name.as_str())).collect();
    assert_eq!(
        cached[0],
        (true, "[2/3] COPY --link app.txt /app/"),
        "the --link layer is reused on a new base"
    );
    assert_eq!(cached[1], (false, "[3/3] COPY app.txt /plain/"));
    let r = f.rootfs(&built);
    assert_eq!(read(&r, "app/app.txt"), "app\n");
    assert_eq!(read(&r, "etc/new-file"), "new");
}

#[test]
fn irrelevant_changes_keep_the_cache() {
    need_root!();
    let f = Fixture::new();
    let df = |label: &str| {
        format!(
            "FROM busybox\nLABEL version={label}\nRUN --mount=type=secret,id=tok echo step > /s\nCMD [\"{label}\"]\n"
        )
    };
    let mut req = f.request(&df("1"), |_| {});
    req.secrets.insert("tok".into(), kiln_build::Secret::new(b"first".to_vec()));
    f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    // Another label and CMD, another secret value, a proxy build arg: the RUN is still a hit.
    let mut req =
        f.request(&df("2"), |o| o.build_args = Fixture::args(&[("http_proxy", "http://proxy:3128")]));
    req.secrets.insert("tok".into(), kiln_build::Secret::new(b"second".to_vec()));
    let built = f.run(&req).unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(built.output.runs, 0);
    assert_eq!(built.config().config.labels.as_ref().unwrap()["version"], "2");
    // A changed ENV before the RUN does invalidate it, and is named.
    let built = f.build(
        "FROM busybox\nENV MODE=fast\nLABEL version=2\nRUN --mount=type=secret,id=tok echo step > /s\n",
    );
    let run = built.output.steps.iter().find(|s| s.name.contains("RUN")).unwrap();
    assert_eq!(run.miss_reasons, ["env MODE added"]);
}
