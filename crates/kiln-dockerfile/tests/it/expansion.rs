//! Expansion of instructions as BuildKit's dispatcher does it.

use std::collections::BTreeMap;

use kiln_dockerfile::{Command, Dockerfile, parse};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn expand(df: &Dockerfile, i: usize, pairs: &[(&str, &str)]) -> kiln_dockerfile::Expanded {
    df.expand(&df.instructions[i], &env(pairs)).unwrap()
}

#[test]
fn expands_only_where_buildkit_does() {
    let df = parse(
        "FROM --platform=$P img:$V\nENV A=$X B=${Y:-dflt}\nRUN echo $X\nWORKDIR $D/sub\nUSER ${U}\nLABEL $K=v\nCMD echo $X\n",
    )
    .unwrap();
    let x = expand(&df, 0, &[("P", "linux/arm64"), ("V", "3")]);
    let Command::From(f) = x.command else { panic!() };
    assert_eq!((f.image.value.as_str(), f.platform.unwrap().value.as_str()), ("img:3", "linux/arm64"));
    let x = expand(&df, 1, &[("X", "1")]);
    let Command::Env(e) = x.command else { panic!() };
    assert_eq!((e.vars[0].value.value.as_str(), e.vars[1].value.value.as_str()), ("1", "dflt"));
    assert_eq!(x.unmatched.into_iter().collect::<Vec<_>>(), ["Y"]);
    assert_eq!(x.matched.into_iter().collect::<Vec<_>>(), ["X"]);
    // RUN and CMD are left to the shell.
    assert_eq!(expand(&df, 2, &[("X", "1")]).command, df.instructions[2].command);
    assert_eq!(expand(&df, 6, &[("X", "1")]).command, df.instructions[6].command);
    let Command::Workdir(w) = expand(&df, 3, &[("D", "/srv")]).command else { panic!() };
    assert_eq!(w.path.value, "/srv/sub");
    let x = expand(&df, 4, &[]);
    let Command::User(u) = x.command else { panic!() };
    assert_eq!(u.user.value, "");
    assert!(x.unmatched.contains("U"));
    let Command::Label(l) = expand(&df, 5, &[("K", "key")]).command else { panic!() };
    assert_eq!(l.labels[0].key.value, "key");
}

#[test]
fn copy_add_and_heredoc_sources() {
    let df = parse(
        "FROM a\nCOPY --chown=$U:$G --from=base $SRC \"$DST\"\nCOPY <<EOF <<'RAW' /x\n\"$A\" \\$A\nEOF\n$A\nRAW\nCOPY --from=$S a b\nADD --checksum=$SUM a b\n",
    )
    .unwrap();
    let Command::Copy(c) = expand(&df, 1, &[("U", "1"), ("G", "2"), ("SRC", "s"), ("DST", "d e")]).command
    else {
        panic!()
    };
    assert_eq!((c.chown.unwrap().value, c.from.unwrap().value), ("1:2".to_owned(), "base".to_owned()));
    assert_eq!((c.sources[0].value.as_str(), c.dest.value.as_str()), ("s", "d e"));
    let Command::Copy(c) = expand(&df, 2, &[("A", "v")]).command else { panic!() };
    // Unquoted delimiter: expanded with quotes kept and `\` as escape; quoted delimiter: verbatim.
    assert_eq!(c.contents[0].data, "\"v\" $A\n");
    assert_eq!(c.contents[1].data, "$A\n");
    let e = df.expand(&df.instructions[3], &env(&[("S", "x")])).unwrap_err();
    assert!(e.message().starts_with("variable expansion is not supported for --from"), "{e}");
    let Command::Add(a) = expand(&df, 4, &[("SUM", "sha256:00")]).command else { panic!() };
    assert_eq!(a.checksum.unwrap().value, "sha256:00");
}

#[test]
fn run_mounts_are_resolved_after_expansion() {
    let df = parse("FROM a\nRUN --mount=type=$T,target=$HOME/.cache,id=${ID:-c},uid=$UID x\nRUN --mount=type=cache,mode=$M x\n").unwrap();
    let Command::Run(r) = expand(&df, 1, &[("T", "cache"), ("HOME", "/root"), ("UID", "1000")]).command
    else {
        panic!()
    };
    let m = r.mounts[0].mount.as_ref().unwrap();
    assert_eq!((m.target.as_str(), m.id.as_str(), m.uid), ("/root/.cache", "c", Some(1000)));
    let e = df.expand(&df.instructions[2], &env(&[("M", "999")])).unwrap_err();
    assert_eq!(e.message(), "invalid value 999 for mode");
    assert_eq!(e.line, 3);
}

#[test]
fn expose_splits_words_and_arg_expands_defaults() {
    let df = parse("FROM a\nEXPOSE $PORTS 8080\nARG A=$B C\n").unwrap();
    let Command::Expose(e) = expand(&df, 1, &[("PORTS", "80 443/udp")]).command else { panic!() };
    assert_eq!(e.ports.iter().map(|p| p.value.as_str()).collect::<Vec<_>>(), ["80", "443/udp", "8080"]);
    let Command::Arg(a) = expand(&df, 2, &[("B", "b")]).command else { panic!() };
    assert_eq!((a.args[0].key.value.as_str(), a.args[0].value.as_ref().unwrap().value.as_str()), ("A", "b"));
}

#[test]
fn expansion_errors_name_the_place() {
    let df = parse("FROM a\nWORKDIR ${X:?must be set}\nFROM $EMPTY\n").unwrap();
    let e = df.expand(&df.instructions[1], &env(&[])).unwrap_err();
    assert_eq!(e.to_string(), "Dockerfile:2:9: failed to process \"${X:?must be set}\": X: must be set");
    let e = df.expand(&df.instructions[2], &env(&[])).unwrap_err();
    assert_eq!(e.message(), "base name ($EMPTY) should not be blank");
}

#[test]
fn backtick_escape_is_used_for_expansion() {
    let df = parse("# escape=`\nFROM a\nENV P=C:`$HOME\\x\n").unwrap();
    let Command::Env(e) = expand(&df, 1, &[("HOME", "h")]).command else { panic!() };
    assert_eq!(e.vars[0].value.value, "C:$HOME\\x");
}
