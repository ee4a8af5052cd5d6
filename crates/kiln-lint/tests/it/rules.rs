//! Every rule against its cases (`cases.rs`): the lines it reports, and that every rule has both a
//! triggering case and a near-miss.

use kiln_lint::{Config, RULES};

use crate::cases::{CASES, Case};

pub(crate) fn lines_of(case: &Case) -> Vec<u32> {
    let cfg = case.cfg.map_or_else(Config::default, |f| f());
    let report = kiln_lint::lint("Dockerfile", case.src, &cfg);
    let mut lines: Vec<u32> =
        report.findings.iter().filter(|f| f.rule == case.rule).map(|f| f.line).collect();
    lines.sort_unstable();
    lines
}

#[test]
fn every_case_reports_exactly_its_lines() {
    let mut failures = Vec::new();
    for case in CASES {
        let got = lines_of(case);
        if got != case.lines {
            failures
                .push(format!("{} expected {:?}, got {:?} for:\n{}", case.rule, case.lines, got, case.src));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_rule_has_a_trigger_and_a_near_miss() {
    let mut missing = Vec::new();
    for r in RULES {
        let trig = CASES.iter().any(|c| c.rule == r.id && !c.lines.is_empty());
        let miss = CASES.iter().any(|c| c.rule == r.id && c.lines.is_empty());
        if !trig || !miss {
            missing.push(format!("{} (trigger: {trig}, near-miss: {miss})", r.id));
        }
    }
    assert!(missing.is_empty(), "rules without cases: {}", missing.join(", "));
}

#[test]
fn findings_carry_positions_and_spans_inside_the_source() {
    for case in CASES.iter().filter(|c| !c.lines.is_empty()) {
        let cfg = case.cfg.map_or_else(Config::default, |f| f());
        let report = kiln_lint::lint("Dockerfile", case.src, &cfg);
        for f in &report.findings {
            assert!(f.line >= 1 && f.column >= 1, "{f:?}");
            assert!(f.span.start <= f.span.end && f.span.end <= case.src.len(), "{f:?} in {}", case.src);
        }
    }
}
