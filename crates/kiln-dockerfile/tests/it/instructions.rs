//! The typed layer: every instruction and flag, BuildKit's validation messages, positions.

use std::time::Duration;

use kiln_dockerfile::instruction::{Healthcheck, Network, RunScript, Security};
use kiln_dockerfile::{Command, CommandLine, MountType, parse};

fn one(src: &str) -> Command {
    let df = parse(&format!("FROM scratch\n{src}\n")).unwrap();
    df.instructions[1].command.clone()
}

fn err(src: &str) -> String {
    parse(&format!("FROM scratch\n{src}\n")).unwrap_err().message()
}

#[test]
fn from_with_platform_and_stage() {
    let df = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nFROM build").unwrap();
    let Command::From(f) = &df.instructions[0].command else { panic!() };
    assert_eq!(f.image.value, "golang:1.22");
    assert_eq!(f.platform.as_ref().unwrap().value, "$BUILDPLATFORM");
    let stage = f.stage.as_ref().unwrap();
    assert_eq!((stage.name.as_str(), stage.token.value.as_str()), ("build", "Build"));
    assert_eq!(&df.source()[stage.token.span.range()], "Build");
    assert_eq!(
        parse("FROM a AS 1x").unwrap_err().message(),
        "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
    assert_eq!(parse("FROM a b").unwrap_err().message(), "FROM requires either one or three arguments");
    assert_eq!(
        parse("FROM --platfrom=x a").unwrap_err().message(),
        "unknown flag: --platfrom (did you mean platform?)"
    );
    assert_eq!(parse("RUN x").unwrap_err().message(), "no build stage in current context");
    assert!(parse("ARG V=1\nFROM a:$V").is_ok());
}

#[test]
fn run_flags_and_forms() {
    let Command::Run(r) = one(
        "RUN --network=none --security=insecure --mount=type=cache,target=/c --mount=target=/b,from=x echo hi",
    ) else {
        panic!()
    };
    assert_eq!((r.network, r.security), (Network::None, Security::Insecure));
    assert_eq!(r.command, CommandLine::Shell("echo hi".into()));
    assert_eq!(r.mounts.len(), 2);
    assert!(r.mounts[0].mount.is_none(), "mounts are resolved at expansion, as in BuildKit");
    let m0 = r.mounts[0].parse_unexpanded().unwrap();
    assert_eq!((m0.kind, m0.read_only, m0.target.as_str()), (MountType::Cache, false, "/c"));
    assert_eq!(r.mounts[1].parse_unexpanded().unwrap().from, "x");
    let Command::Run(r) = one("RUN [\"/bin/echo\", \"a b\"]") else { panic!() };
    assert_eq!(r.command, CommandLine::Exec(vec!["/bin/echo".into(), "a b".into()]));
    assert_eq!((r.network, r.security), (Network::Default, Security::Sandbox));
    // A mount with a variable is checked only after expansion.
    let Command::Run(r) = one("RUN --mount=type=cache,target=$HOME/.cache x") else { panic!() };
    assert!(r.mounts[0].mount.is_none());
    assert_eq!(err("RUN --network=bridge x"), "invalid network mode \"bridge\"");
    assert_eq!(err("RUN --security=x x"), "security \"x\" is not valid");
    assert_eq!(
        err("RUN --mount=from=$X,target=/a x"),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
    assert_eq!(err("RUN --mnt=x x"), "unknown flag: --mnt (did you mean mount?)");
    assert_eq!(err("RUN --network x"), "missing a value on flag: --network");
    assert_eq!(err("RUN --network=none --network=host x"), "duplicate flag specified: --network");
    let Command::Run(r) = one("RUN --device=vendor.com/gpu=all,required x") else { panic!() };
    assert!(r.devices[0].required);
}

#[test]
fn run_heredocs() {
    let Command::Run(r) = one("RUN <<EOF\necho a\nEOF") else { panic!() };
    assert_eq!(r.command, CommandLine::Shell("<<EOF".into()));
    assert_eq!(r.script(), RunScript::Body("echo a\n".into()));
    let Command::Run(r) = one("RUN <<-EOF\n\t#!/usr/bin/env python3\n\tprint(1)\nEOF") else { panic!() };
    assert_eq!(
        r.script(),
        RunScript::Shebang { name: "EOF".into(), data: "#!/usr/bin/env python3\nprint(1)\n".into() }
    );
    let Command::Run(r) = one("RUN python3 <<EOF > /out\nprint(1)\nEOF") else { panic!() };
    assert_eq!(r.script(), RunScript::Script("python3 <<EOF > /out\nprint(1)\nEOF".into()));
}

#[test]
fn copy_and_add_flags() {
    let Command::Copy(c) = one(
        "COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=.git a b /dst/",
    ) else {
        panic!()
    };
    assert_eq!(c.from.unwrap().value, "build");
    assert_eq!((c.chown.unwrap().value, c.chmod.unwrap().value), ("1:2".into(), "755".into()));
    assert!(c.link && c.parents);
    assert_eq!(c.excludes.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(), ["*.md", ".git"]);
    assert_eq!(c.sources.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(c.dest.value, "/dst/");
    let Command::Add(a) =
        one("ADD --checksum=sha256:abc --keep-git-dir=false --unpack --link=false https://x/y.tgz /y")
    else {
        panic!()
    };
    assert_eq!((a.keep_git_dir, a.unpack, a.link), (Some(false), Some(true), false));
    assert_eq!(a.checksum.unwrap().value, "sha256:abc");
    assert_eq!(
        err("COPY a"),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(err("ADD --from=x a b"), "unknown flag: --from");
    assert_eq!(err("COPY --checksum=x a b"), "unknown flag: --checksum");
    assert_eq!(err("COPY --link=maybe a b"), "expecting boolean value for flag --link, not: maybe");
    assert_eq!(err("COPY --link= a b"), "missing a value on flag: --link");
    assert_eq!(err("COPY a <<EOF\nx\nEOF"), "COPY cannot accept a heredoc as a destination");
    let Command::Copy(c) = one("COPY <<one <<-'two' /dst\n$A\none\n\t$B\ntwo") else { panic!() };
    assert!(c.sources.is_empty());
    assert_eq!(c.contents.len(), 2);
    assert_eq!((c.contents[0].data.as_str(), c.contents[0].expand), ("$A\n", true));
    assert_eq!((c.contents[1].data.as_str(), c.contents[1].expand), ("$B\n", false));
    let Command::Copy(c) = one("COPY [\"a b\", \"/c d/\"]") else { panic!() };
    assert_eq!((c.sources[0].value.as_str(), c.dest.value.as_str()), ("a b", "/c d/"));
}

#[test]
fn env_label_arg_forms() {
    let Command::Env(e) = one("ENV A=1 B=\"two words\"") else { panic!() };
    assert_eq!(e.vars.len(), 2);
    assert_eq!(
        (e.vars[1].key.value.as_str(), e.vars[1].value.value.as_str(), e.vars[1].legacy),
        ("B", "\"two words\"", false)
    );
    let Command::Env(e) = one("ENV PATH /usr/bin:$PATH") else { panic!() };
    assert_eq!((e.vars[0].value.value.as_str(), e.vars[0].legacy), ("/usr/bin:$PATH", true));
    let Command::Label(l) = one("LABEL org.opencontainers.image.title=\"kiln\" version=1") else { panic!() };
    assert_eq!(l.labels[0].key.value, "org.opencontainers.image.title");
    let Command::Label(l) = one("LABEL maintainer someone@example.com") else { panic!() };
    assert!(l.labels[0].legacy);
    let Command::Arg(a) = one("ARG A B=2 C=") else { panic!() };
    assert_eq!(a.args[0].value, None);
    assert_eq!(a.args[1].value.as_ref().unwrap().value, "2");
    assert_eq!(a.args[2].value.as_ref().unwrap().value, "");
    assert_eq!(err("ARG =x"), "ARG names can not be blank");
    assert_eq!(err("ENV =x"), "ENV names can not be blank");
    assert_eq!(err("ENV"), "ENV requires at least one argument");
    assert_eq!(err("ENV A=1 B"), "Syntax error - can't find = in \"B\". Must be of the form: name=value");
    assert_eq!(err("ARG"), "ARG requires at least one argument");
}

#[test]
fn cmd_entrypoint_shell() {
    assert_eq!(
        one("CMD [\"a\"]"),
        Command::Cmd(kiln_dockerfile::instruction::Cmd { command: CommandLine::Exec(vec!["a".into()]) })
    );
    let Command::Cmd(c) = one("CMD echo $HOME") else { panic!() };
    let sh = vec!["/bin/sh".to_owned(), "-c".to_owned()];
    assert_eq!(c.command.with_shell(&sh), ["/bin/sh", "-c", "echo $HOME"]);
    let Command::Cmd(c) = one("CMD") else { panic!() };
    assert_eq!(c.command.with_shell(&sh), ["/bin/sh", "-c"]);
    let Command::Entrypoint(e) = one("ENTRYPOINT []") else { panic!() };
    assert_eq!(e.command, CommandLine::Exec(vec![]));
    let Command::Shell(s) = one("SHELL [\"bash\", \"-eo\", \"pipefail\", \"-c\"]") else { panic!() };
    assert_eq!(s.shell, ["bash", "-eo", "pipefail", "-c"]);
    assert_eq!(err("SHELL bash -c"), "SHELL requires the arguments to be in JSON form");
    assert_eq!(err("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(err("CMD --x a"), "unknown flag: --x");
}

#[test]
fn healthcheck_options() {
    let Command::Healthcheck(Healthcheck::Cmd(h)) = one(
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=500ms --retries=3 CMD curl -f http://localhost/",
    ) else {
        panic!()
    };
    assert_eq!(h.test, ["CMD-SHELL", "curl -f http://localhost/"]);
    assert_eq!((h.interval, h.timeout), (Duration::from_secs(30), Duration::from_secs(90)));
    assert_eq!(
        (h.start_period, h.start_interval, h.retries),
        (Duration::from_secs(5), Duration::from_millis(500), 3)
    );
    let Command::Healthcheck(Healthcheck::Cmd(h)) = one("HEALTHCHECK CMD [\"/ok\", \"-q\"]") else {
        panic!()
    };
    assert_eq!(
        (h.test.as_slice(), h.interval),
        (&["CMD".to_owned(), "/ok".into(), "-q".into()][..], Duration::ZERO)
    );
    assert_eq!(one("HEALTHCHECK NONE"), Command::Healthcheck(Healthcheck::None));
    assert_eq!(err("HEALTHCHECK NONE x"), "HEALTHCHECK NONE takes no arguments");
    assert_eq!(err("HEALTHCHECK CONNECT TCP 7000"), "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)");
    assert_eq!(err("HEALTHCHECK CMD"), "Missing command after HEALTHCHECK CMD");
    assert_eq!(err("HEALTHCHECK --interval=1us CMD x"), "Interval \"interval\" cannot be less than 1ms");
    assert_eq!(err("HEALTHCHECK --timeout=5 CMD x"), "time: missing unit in duration \"5\"");
    assert_eq!(err("HEALTHCHECK --retries=-1 CMD x"), "--retries cannot be negative (-1)");
    assert_eq!(err("HEALTHCHECK --retries=x CMD x"), "strconv.ParseInt: parsing \"x\": invalid syntax");
    assert_eq!(err("HEALTHCHECK --intervall=1s CMD x"), "unknown flag: --intervall (did you mean interval?)");
    assert_eq!(err("HEALTHCHECK"), "HEALTHCHECK requires at least one argument");
}

#[test]
fn simple_instructions() {
    let Command::Expose(e) = one("EXPOSE 80 443/tcp 53/udp 7000-7010/sctp") else { panic!() };
    assert_eq!(e.ports.len(), 4);
    let Command::User(u) = one("USER app:app") else { panic!() };
    assert_eq!(u.user.value, "app:app");
    let Command::Workdir(w) = one("WORKDIR /srv/app") else { panic!() };
    assert_eq!(w.path.value, "/srv/app");
    let Command::Volume(v) = one("VOLUME [\"/data\", \"/logs\"]") else { panic!() };
    assert_eq!(v.paths.len(), 2);
    let Command::Volume(v) = one("VOLUME /a /b") else { panic!() };
    assert_eq!(v.paths[1].value, "/b");
    let Command::StopSignal(s) = one("STOPSIGNAL SIGTERM") else { panic!() };
    assert_eq!(s.signal.value, "SIGTERM");
    let Command::Maintainer(m) = one("MAINTAINER Jane <jane@example.com>") else { panic!() };
    assert_eq!(m.name.value, "Jane <jane@example.com>");
    assert_eq!(err("VOLUME [\"\"]"), "VOLUME specified can not be an empty string");
    assert_eq!(err("USER"), "USER requires exactly one argument");
    assert_eq!(err("WORKDIR"), "WORKDIR requires exactly one argument");
    assert_eq!(err("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(err("STOPSIGNAL"), "STOPSIGNAL requires exactly one argument");
}

#[test]
fn onbuild_nests_a_typed_instruction() {
    let df = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nONBUILD COPY . /app").unwrap();
    let Command::Onbuild(inner) = &df.instructions[1].command else { panic!() };
    assert_eq!(inner.name(), "RUN");
    assert_eq!(df.instructions[1].onbuild_expression().unwrap(), "RUN <<EOF\necho hi\nEOF");
    assert_eq!(df.instructions[2].onbuild_expression().unwrap(), "COPY . /app");
    assert_eq!(err("ONBUILD ONBUILD RUN x"), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    assert_eq!(err("ONBUILD FROM x"), "FROM isn't allowed as an ONBUILD trigger");
    assert_eq!(err("ONBUILD"), "ONBUILD requires at least one argument");
}

#[test]
fn unknown_instruction_suggests_and_points_at_the_keyword() {
    let e = parse("FROM a\n  FNTRYPOINT [\"x\"]\n").unwrap_err();
    assert_eq!(e.message(), "unknown instruction: FNTRYPOINT (did you mean ENTRYPOINT?)");
    assert_eq!((e.line, e.col), (2, 3));
    assert_eq!(e.to_string(), "Dockerfile:2:3: unknown instruction: FNTRYPOINT");
    let e = kiln_dockerfile::parse_named("build/Dockerfile.dev", "FROM a\nCOPY --chwon=1 a b").unwrap_err();
    assert_eq!(e.to_string(), "build/Dockerfile.dev:2:6: unknown flag: --chwon");
    assert_eq!(e.help.as_deref(), Some("did you mean chown?"));
}

#[test]
fn keywords_are_case_insensitive() {
    let df = parse("from a as b\nrUn echo\nCopy x y").unwrap();
    assert_eq!(df.instructions.iter().map(|i| i.name()).collect::<Vec<_>>(), ["FROM", "RUN", "COPY"]);
    assert_eq!(df.instructions[1].keyword.value, "rUn");
}
