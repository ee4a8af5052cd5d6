//! Fuzzes the Dockerfile parser: any input must parse or fail with a diagnostic (never panic), a parsed
//! tree must give the input back byte for byte, every span must lie on character boundaries inside the
//! source, and the typed layer, the dump and expansion must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(tree) = kiln_dockerfile::syntax::parse_syntax("Dockerfile", src) else { return };
    assert_eq!(tree.to_source(), src, "lossless round trip");
    let _ = tree.dump();
    for node in &tree.nodes {
        for span in std::iter::once(node.span)
            .chain(node.args.iter().map(|a| a.span))
            .chain(node.flags.iter().map(|f| f.span))
        {
            assert!(src.get(span.range()).is_some(), "span {span:?} is not a valid range of the source");
        }
    }
    let Ok(df) = kiln_dockerfile::parse(src) else { return };
    let env: Vec<(String, String)> = vec![("A".into(), "a b".into()), ("EMPTY".into(), String::new())];
    for i in &df.instructions {
        let _ = df.expand(i, &env);
    }
});
