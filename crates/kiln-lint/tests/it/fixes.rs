//! Safe fixes: exact rewrites for each fixable rule, and a round trip over many Dockerfiles (the rule
//! cases, a generated set, and `$KILN_LINT_CORPUS` when set): fix one rule, re-parse, re-lint — the fixed
//! findings are gone, the file still parses, the line count and every other finding outside the touched
//! instructions are unchanged, no new kind of finding appears, and fixing again changes nothing.

use std::collections::BTreeSet;

use kiln_lint::Config;
use kiln_lint::fix::{fix_source, unified_diff};

fn fixed(src: &str, rule: &str) -> String {
    fix_source("Dockerfile", src, &Config::default(), Some(&[rule.to_owned()].into())).source
}

#[test]
fn each_fix_rewrites_only_what_it_names() {
    let apt = "FROM debian:12\n# keep me\nRUN apt-get update && apt-get install curl=1\n";
    let all = fix_source("Dockerfile", apt, &Config::default(), None).source;
    assert_eq!(
        all,
        "FROM debian:12\n# keep me\nRUN apt-get update && apt-get install -y --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*\n"
    );
    assert_eq!(
        fixed("FROM a:1\nMAINTAINER Jane \"J\" <j@x.org>\n", "DL4000"),
        "FROM a:1\nLABEL maintainer=\"Jane \\\"J\\\" <j@x.org>\"\n"
    );
    assert_eq!(fixed("FROM a:1 as build\n", "FromAsCasing"), "FROM a:1 AS build\n");
    assert_eq!(fixed("from a:1 AS build\n", "FromAsCasing"), "from a:1 as build\n");
    assert_eq!(
        fixed("FROM a:1\nENV A b\nENV B c d\nENV C \"e f\"\n", "LegacyKeyValueFormat"),
        "FROM a:1\nENV A=b\nENV B=\"c d\"\nENV C \"e f\"\n"
    );
    assert_eq!(fixed("FROM a:1\nWORKDIR app\n", "DL3000"), "FROM a:1\nWORKDIR /app\n");
    assert_eq!(
        fixed("FROM alpine:3\nRUN apk add bash=5\n", "DL3019"),
        "FROM alpine:3\nRUN apk add --no-cache bash=5\n"
    );
    assert_eq!(
        fixed("FROM p:3\nRUN pip install x==1\n", "DL3042"),
        "FROM p:3\nRUN pip install --no-cache-dir x==1\n"
    );
    assert_eq!(
        fixed("FROM a:1\nRUN echo one\nRUN echo two\n", "DL3059"),
        "FROM a:1\nRUN echo one && \\\n    echo two\n"
    );
    // Continuations use the file's escape character; a value continued over lines keeps its lines.
    assert_eq!(
        fixed("# escape=`\nFROM a:1\nRUN echo one\nRUN echo two\n", "DL3059"),
        "# escape=`\nFROM a:1\nRUN echo one && `\n    echo two\n"
    );
    assert_eq!(
        fixed("FROM a:1\nENV DEPS \\\n\t\tllvm \\\n\t\tclang\n", "LegacyKeyValueFormat"),
        "FROM a:1\nENV DEPS=\"\\\nllvm \\\n\t\tclang\"\n"
    );
    assert_eq!(
        fixed("FROM debian:12\nRUN apt-get install -y a=1 && apt-get install -y b=2\n", "DL3015"),
        "FROM debian:12\nRUN apt-get install --no-install-recommends -y a=1 && apt-get install --no-install-recommends -y b=2\n"
    );
    assert_eq!(
        fixed("FROM a:1 AS Build\nFROM a:1\nCOPY --from=Build /x /x\n", "StageNameCasing"),
        "FROM a:1 AS build\nFROM a:1\nCOPY --from=build /x /x\n"
    );
    assert_eq!(
        fixed("FROM a:1\nrun true\nRUN true\n", "ConsistentInstructionCasing"),
        "FROM a:1\nRUN true\nRUN true\n"
    );
}

#[test]
fn unsafe_cases_get_no_fix() {
    // `cd` changes the shell's state: joining would change what the second RUN does.
    let src = "FROM a:1\nRUN cd /x\nRUN make\n";
    assert_eq!(fixed(src, "DL3059"), src);
    // Different flags, heredocs, exec form: no merge.
    let src = "FROM a:1\nRUN echo a\nRUN --mount=type=cache,target=/c echo b\nRUN [\"echo\", \"c\"]\nRUN [\"echo\", \"d\"]\n";
    assert_eq!(fixed(src, "DL3059"), src);
    // `&&` is no PowerShell 5 syntax: no merge under such a SHELL.
    let src = "FROM w:1\nSHELL [\"powershell\", \"-Command\"]\nRUN echo a\nRUN echo b\n";
    assert_eq!(fixed(src, "DL3059"), src);
    // A stage name made of variables is not renamed (its references are the variables).
    let src = "ARG N=Build\nFROM a:1 AS ${N}\nFROM ${N}\n";
    assert_eq!(fixed(src, "StageNameCasing"), src);
    // A legacy value with quotes inside is left alone (its meaning would change).
    let src = "FROM a:1\nENV A b \"c\"\n";
    assert_eq!(fixed(src, "LegacyKeyValueFormat"), src);
}

#[test]
fn diff_mode_output() {
    let src = "FROM a:1\nMAINTAINER me\n";
    let new = fixed(src, "DL4000");
    assert_eq!(
        unified_diff("Dockerfile", src, &new),
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n FROM a:1\n-MAINTAINER me\n+LABEL maintainer=\"me\"\n"
    );
}

/// A deterministic set of Dockerfiles mixing fixable and unfixable lines.
fn generated() -> Vec<String> {
    const FROMS: &[&str] = &[
        "FROM debian:12",
        "FROM debian:12 as build",
        "from alpine:3.20 as Builder",
        "FROM ubuntu",
        "FROM python:3.12 AS Py",
    ];
    const LINES: &[&str] = &[
        "MAINTAINER Jane <j@x.org>",
        "ENV A b",
        "ENV PATH=/x:$PATH",
        "ENV B \"c d\"",
        "ENV C c d",
        "LABEL version 1",
        "RUN apt-get update && apt-get install curl=1",
        "RUN apt-get update \\\n    && apt-get install -y \\\n       wget=2",
        "RUN apk add bash=5",
        "RUN pip install flask==3",
        "RUN echo one",
        "RUN echo two",
        "RUN cd /x && make",
        "run echo lower",
        "WORKDIR app",
        "WORKDIR /srv",
        "# keep this comment",
        "",
        "CMD [\"run\"]",
        "CMD run.sh",
        "COPY --from=Builder /a /b",
        "RUN curl -s https://x | sh",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    (0..250)
        .map(|_| {
            let mut s = String::from(FROMS[next(FROMS.len())]);
            s.push('\n');
            for _ in 0..(4 + next(8)) {
                s.push_str(LINES[next(LINES.len())]);
                s.push('\n');
            }
            s
        })
        .collect()
}

/// Start lines of the instructions that contain the lines where `a` and `b` differ.
fn touched(a: &str, b: &str) -> BTreeSet<u32> {
    let changed: Vec<u32> = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(n, _)| n as u32 + 1)
        .collect();
    let mut out: BTreeSet<u32> = changed.iter().copied().collect();
    if let Ok(tree) = kiln_dockerfile::syntax::parse_syntax("Dockerfile", a) {
        for n in &tree.nodes {
            if changed.iter().any(|l| (n.start_line..=n.end_line).contains(l)) {
                out.insert(n.start_line);
            }
        }
    }
    out
}

/// Start lines of the instructions right after the ones starting at `lines`.
fn following(src: &str, lines: &BTreeSet<u32>) -> BTreeSet<u32> {
    let Ok(tree) = kiln_dockerfile::syntax::parse_syntax("Dockerfile", src) else { return BTreeSet::new() };
    tree.nodes.windows(2).filter(|w| lines.contains(&w[0].start_line)).map(|w| w[1].start_line).collect()
}

fn round_trip(src: &str, failures: &mut Vec<String>) {
    let cfg = Config::default();
    let before = kiln_lint::lint("Dockerfile", src, &cfg).findings;
    let fixable: BTreeSet<&'static str> = before.iter().filter(|f| f.fix.is_some()).map(|f| f.rule).collect();
    for rule in fixable {
        let only: BTreeSet<String> = [rule.to_owned()].into();
        let out = fix_source("Dockerfile", src, &cfg, Some(&only)).source;
        let mut fail = |m: String| failures.push(format!("{rule}: {m}\n--- before\n{src}--- after\n{out}"));
        if kiln_dockerfile::parse(src).is_ok() != kiln_dockerfile::parse(&out).is_ok() {
            fail("parses differently".into());
            continue;
        }
        if src.lines().count() != out.lines().count() {
            fail("line count changed".into());
        }
        let after = kiln_lint::lint("Dockerfile", &out, &cfg).findings;
        if after.iter().any(|f| f.rule == rule && f.fix.is_some()) {
            fail("a fixable finding is left".into());
        }
        if fix_source("Dockerfile", &out, &cfg, Some(&only)).source != out {
            fail("not idempotent".into());
        }
        let t = touched(src, &out);
        // DL3059 judges a RUN by the RUN before it, so the instruction after a touched one may change.
        let next = following(src, &t);
        let outside = |f: &&kiln_lint::Finding| {
            f.rule != rule && !t.contains(&f.line) && !(f.rule == "DL3059" && next.contains(&f.line))
        };
        // Messages may cite line numbers of instructions that were joined, so they are not compared.
        let key = |f: &kiln_lint::Finding| (f.rule, f.line);
        let outside_before: BTreeSet<_> = before.iter().filter(outside).map(key).collect();
        let outside_after: BTreeSet<_> = after.iter().filter(outside).map(key).collect();
        if outside_before != outside_after {
            fail(format!(
                "findings elsewhere changed: {:?} vs {:?}",
                outside_before.symmetric_difference(&outside_after).collect::<Vec<_>>(),
                t
            ));
        }
        let kinds_before: BTreeSet<&str> = before.iter().map(|f| f.rule).collect();
        if let Some(new) = after.iter().find(|f| !kinds_before.contains(f.rule)) {
            fail(format!("new kind of finding {} at line {}", new.rule, new.line));
        }
    }
}

#[test]
fn round_trip_over_many_dockerfiles() {
    let mut sources: Vec<String> = crate::cases::CASES.iter().map(|c| c.src.to_owned()).collect();
    sources.extend(generated());
    if let Some(dir) = std::env::var_os("KILN_LINT_CORPUS") {
        for e in std::fs::read_dir(dir).unwrap() {
            if let Ok(t) = std::fs::read_to_string(e.unwrap().path()) {
                sources.push(t);
            }
        }
    }
    let mut failures = Vec::new();
    let mut fixed_any = 0;
    for s in &sources {
        let n = failures.len();
        round_trip(s, &mut failures);
        if failures.len() == n && fix_source("Dockerfile", s, &Config::default(), None).source != *s {
            fixed_any += 1;
        }
    }
    eprintln!("round trip: {} Dockerfiles, {fixed_any} changed by fixes", sources.len());
    assert!(fixed_any > 100, "the generated set must exercise the fixes ({fixed_any})");
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}
