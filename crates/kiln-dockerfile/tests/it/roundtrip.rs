//! Property tests: the tree is lossless and every span is a valid range of the source.

use kiln_dockerfile::syntax::{ElementKind, parse_syntax};
use proptest::prelude::*;

/// Line fragments that exercise the parser: keywords in any case, flags, JSON, continuations, comments,
/// empty continuation lines, heredocs, directives, CRLF, non-ASCII text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("FROM alpine:3.20 AS build".to_owned()),
        Just("from --platform=$BUILDPLATFORM x".to_owned()),
        Just("RUN echo hi \\".to_owned()),
        Just("  && echo ♥ \\".to_owned()),
        Just("# comment inside".to_owned()),
        Just(String::new()),
        Just("   ".to_owned()),
        Just("\\".to_owned()),
        Just("COPY --from=b --chown=\"1:1\" a b /c/".to_owned()),
        Just("COPY <<EOF /x".to_owned()),
        Just("RUN <<-'X' cat".to_owned()),
        Just("EOF".to_owned()),
        Just("\tX".to_owned()),
        Just("CMD [\"a\", \"b\\u00e9\"]".to_owned()),
        Just("CMD [\"a\", [1]]".to_owned()),
        Just("ENV A=1 B=\"2 3\" C=".to_owned()),
        Just("ENV PATH /bin".to_owned()),
        Just("LABEL x".to_owned()),
        Just("ONBUILD RUN --mount=type=cache,target=/c make".to_owned()),
        Just("HEALTHCHECK --interval=5s CMD true".to_owned()),
        Just("# escape=`".to_owned()),
        Just("# syntax=docker/dockerfile:1".to_owned()),
        Just("ARG A=\"x y\" B".to_owned()),
        Just("WORKDIR `".to_owned()),
        "[ -~\\t♥é]{0,20}".prop_map(|s| s),
    ]
}

fn dockerfile() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec((fragment(), prop_oneof![Just("\n"), Just("\r\n"), Just("")]), 0..12),
    )
        .prop_map(|(bom, lines)| {
            let mut s = if bom { "\u{FEFF}".to_owned() } else { String::new() };
            for (l, end) in lines {
                s.push_str(&l);
                s.push_str(if end.is_empty() { "\n" } else { end });
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_is_lossless_and_spans_are_valid(src in dockerfile()) {
        if let Ok(tree) = parse_syntax("Dockerfile", &src) {
            prop_assert_eq!(tree.to_source(), src.clone());
            let mut pos = 0;
            for e in &tree.elements {
                prop_assert_eq!(e.range.start, pos);
                pos = e.range.end;
            }
            prop_assert_eq!(pos, src.len());
            for e in &tree.elements {
                let ElementKind::Instruction(i) = e.kind else { continue };
                let n = &tree.nodes[i];
                prop_assert!(e.range.start <= n.span.start && n.span.end <= e.range.end);
                for s in n.args.iter().map(|a| a.span).chain(n.flags.iter().map(|f| f.span)).chain([n.keyword.span]) {
                    prop_assert!(src.get(s.range()).is_some(), "span {:?} in {:?}", s, src);
                    prop_assert!(s.start >= e.range.start && s.end <= e.range.end);
                }
            }
            if let Ok(df) = kiln_dockerfile::parse(&src) {
                prop_assert_eq!(df.to_source(), src.clone());
                prop_assert_eq!(df.dump(), tree.dump());
            }
        }
    }
}
