//! BuildKit's own parser and shell-lexer test data (`../shared/conformance/`), compared case by case.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_dockerfile::shell::Lexer;
use kiln_dockerfile::syntax::{parse_heredoc_word, parse_syntax};
use serde_json::Value;

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap()
}

fn case_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        fs_err::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

#[test]
fn parser_cases_dump_like_buildkit() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-parser") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-parser is absent");
        return;
    };
    let mut failures = Vec::new();
    let mut typed_ok = 0;
    let cases = case_dirs(&root.join("cases"));
    for dir in &cases {
        let src = read(&dir.join("Dockerfile"));
        let expected = read(&dir.join("result"));
        match parse_syntax("Dockerfile", &src) {
            Ok(tree) => {
                if tree.dump() + "\n" != expected {
                    failures.push(format!(
                        "{}: dump differs:\n{}\n--- expected ---\n{expected}",
                        dir.display(),
                        tree.dump()
                    ));
                }
                assert_eq!(tree.to_source(), src, "{}: not lossless", dir.display());
                // Where the instruction layer accepts the file too, its dump is the same.
                if let Ok(df) = kiln_dockerfile::parse(&src) {
                    assert_eq!(df.dump(), tree.dump(), "{}", dir.display());
                    typed_ok += 1;
                }
            }
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
    }
    let negatives = case_dirs(&root.join("negative"));
    for dir in &negatives {
        let src = read(&dir.join("Dockerfile"));
        if let Ok(tree) = parse_syntax("Dockerfile", &src) {
            failures.push(format!("{}: parsed but must fail:\n{}", dir.display(), tree.dump()));
        }
    }
    eprintln!("buildkit-parser: {typed_ok} cases also pass the instruction layer");
    eprintln!(
        "buildkit-parser: {} of {} cases, {} of {} negative cases pass",
        cases.len() - failures.iter().filter(|f| f.contains("/cases/")).count(),
        cases.len(),
        negatives.len() - failures.iter().filter(|f| f.contains("/negative/")).count(),
        negatives.len()
    );
    assert!(cases.len() >= 33 && negatives.len() >= 4, "conformance data is incomplete");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn negative_cases_fail_with_buildkit_messages() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-parser/negative") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-parser is absent");
        return;
    };
    let expected = [
        ("empty_dockerfile", "file with no instructions"),
        ("only_comments", "file with no instructions"),
        ("env_no_value", "ENV must have two arguments"),
        ("shykes-nested-json", "when using JSON array syntax, arrays must be comprised of strings only"),
    ];
    for (case, message) in expected {
        let src = read(&root.join(case).join("Dockerfile"));
        let err = parse_syntax("Dockerfile", &src).unwrap_err();
        assert_eq!(err.kind.to_string(), message, "{case}");
    }
}

#[test]
fn line_numbers_match_buildkit() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-parser/line-info") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-parser is absent");
        return;
    };
    let expected: Value = serde_json::from_str(&read(&root.join("expected.json"))).unwrap();
    let tree = parse_syntax("Dockerfile", &read(&root.join("Dockerfile"))).unwrap();
    let children = expected["children"].as_array().unwrap();
    assert_eq!(tree.nodes.len(), children.len());
    for (node, want) in tree.nodes.iter().zip(children) {
        assert_eq!(node.keyword.value, want["instruction"].as_str().unwrap());
        assert_eq!(
            u64::from(node.start_line),
            want["start_line"].as_u64().unwrap(),
            "{}",
            node.keyword.value
        );
        assert_eq!(u64::from(node.end_line), want["end_line"].as_u64().unwrap(), "{}", node.keyword.value);
    }
    assert_eq!(u64::from(tree.nodes[0].start_line), expected["root"]["start_line"].as_u64().unwrap());
    assert_eq!(
        u64::from(tree.nodes.last().unwrap().end_line),
        expected["root"]["end_line"].as_u64().unwrap()
    );
    assert_eq!(tree.warnings.len(), 1);
    assert_eq!(tree.warnings[0].rule, "NoEmptyContinuation");
}

#[test]
fn heredocs_match_buildkit() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-parser/heredoc") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-parser is absent");
        return;
    };
    let expected: Value = serde_json::from_str(&read(&root.join("expected.json"))).unwrap();
    let tree = parse_syntax("Dockerfile", &read(&root.join("Dockerfile"))).unwrap();
    assert_eq!(tree.nodes.len() as u64, expected["ast_children_total"].as_u64().unwrap());
    let mut checked = 0;
    for (i, want) in expected["expected"].as_array().unwrap().iter().enumerate() {
        let node = &tree.nodes[i + 1];
        assert_eq!(node.original, want["instruction"].as_str().unwrap());
        let got: Vec<Value> = node
            .heredocs
            .iter()
            .map(|h| {
                serde_json::json!({"Name": h.name, "FileDescriptor": h.fd, "Expand": h.expand, "Chomp": h.chomp, "Content": h.content})
            })
            .collect();
        let want_docs = want["heredocs"].as_array().cloned().unwrap_or_default();
        assert_eq!(got, want_docs, "child {}: {}", i + 1, node.original);
        checked += 1;
    }
    // ParseHeredoc on single words, heredocsFromLine on lines, the JSON form and chomping.
    let words = &expected["word_cases"];
    for w in words["valid_name_EOF"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        assert_eq!(parse_heredoc_word(w).unwrap().unwrap().name, "EOF", "{w}");
    }
    for w in words["not_heredoc"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        assert_eq!(parse_heredoc_word(w), Ok(None), "{w}");
    }
    for case in expected["line_cases"]["cases"].as_array().unwrap() {
        let line = case["line"].as_str().unwrap();
        let names: Vec<&str> =
            case["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        let mut src = format!("{line}\n");
        for n in &names {
            src.push_str(n);
            src.push('\n');
        }
        let t = parse_syntax("Dockerfile", &src).unwrap();
        let got: Vec<&str> = t.nodes[0].heredocs.iter().map(|h| h.name.as_str()).collect();
        // Upstream checks only the heredocs that were found (`for i, heredoc := range heredocs`): on a
        // whole line `<<- EOF` lexes as the words `<<-` and `EOF`, so BuildKit finds none there.
        assert!(got.len() <= names.len() && got.iter().zip(&names).all(|(g, n)| g == n), "{line}: {got:?}");
    }
    let json = &expected["json_form_cases"];
    let t = parse_syntax("Dockerfile", json["dockerfile"].as_str().unwrap()).unwrap();
    for i in json["children_without_heredocs"].as_array().unwrap() {
        assert!(t.nodes[i.as_u64().unwrap() as usize].heredocs.is_empty());
    }
    let chomp = &expected["chomp_case"];
    assert_eq!(
        kiln_dockerfile::syntax::chomp(chomp["input"].as_str().unwrap()),
        chomp["output"].as_str().unwrap()
    );
    eprintln!("buildkit-parser heredoc: {checked} instructions match");
}

#[test]
fn heredoc_words_that_fail_to_lex_are_errors() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-parser/heredoc") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-parser is absent");
        return;
    };
    let expected: Value = serde_json::from_str(&read(&root.join("expected.json"))).unwrap();
    for w in expected["word_cases"]["invalid_error"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        assert!(parse_heredoc_word(w).is_err(), "{w}");
    }
}

#[test]
fn shell_env_var_test_matches_buildkit() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-shell") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-shell is absent");
        return;
    };
    let env = vec![("PWD", "/home"), ("SHELL", "bash"), ("KOREAN", "한국어"), ("NULL", "")];
    let lex = Lexer::new('\\');
    let (mut ran, mut failures) = (0, Vec::new());
    for line in read(&root.join("envVarTest")).lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(fields.len(), 3, "{line}");
        if !matches!(fields[0], "A" | "U") {
            continue;
        }
        ran += 1;
        match (lex.process_word(fields[1], &env), fields[2]) {
            (Err(_), "error") => {}
            (Ok(r), want) if r.value == want && want != "error" => {}
            (got, want) => failures.push(format!("{}: got {got:?}, want {want:?}", fields[1])),
        }
    }
    eprintln!("buildkit-shell envVarTest: {} of {ran} pass", ran - failures.len());
    assert!(ran > 200);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shell_words_test_matches_buildkit() {
    let Some(root) = kiln_test::shared_dir("conformance/buildkit-shell") else {
        eprintln!("SKIPPED: ../shared/conformance/buildkit-shell is absent");
        return;
    };
    let lex = Lexer::new('\\');
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let (mut ran, mut failures) = (0, Vec::new());
    for line in read(&root.join("wordsTest")).lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(kv) = line.strip_prefix("ENV ") {
            let (k, v) = kv.split_once('=').unwrap();
            env.insert(k.to_owned(), v.to_owned());
            continue;
        }
        let (input, expected) = line.split_once('|').unwrap();
        let input = input.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        let got = lex.process_words(input, &env).unwrap_or_else(|_| vec!["error".to_owned()]);
        ran += 1;
        if got != expected {
            failures.push(format!("{input}: got {got:?}, want {expected:?}"));
        }
    }
    eprintln!("buildkit-shell wordsTest: {} of {ran} pass", ran - failures.len());
    assert!(ran > 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
