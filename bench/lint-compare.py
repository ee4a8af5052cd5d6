#!/usr/bin/env python3
"""Compares kiln's and hadolint's findings (both in hadolint's `-f json` shape) per rule.

Usage: lint-compare.py KILN.json HADOLINT.json [--rules DL] [--examples N] [--rule DLxxxx]

A finding is the triple (file, line, code). Per rule it reports how many findings both tools report
(agree), only hadolint, only kiln, and the agreement rate both / (both + only-hadolint + only-kiln).
Files hadolint cannot parse (DL1000) are left out of the DL comparison, since hadolint reports nothing
else for them; they are counted separately. `--examples N` prints N disagreements per rule.
"""

import argparse
import collections
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(d["file"], d["line"], d["code"]) for d in data]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("hadolint")
    ap.add_argument("--rules", default="DL", help="rule ID prefix to compare (default DL)")
    ap.add_argument("--examples", type=int, default=0)
    ap.add_argument("--rule", help="only this rule (with --examples)")
    args = ap.parse_args()

    kiln = load(args.kiln)
    hado = load(args.hadolint)
    unparsed = {f for f, _, c in hado if c == "DL1000"}
    kiln_unparsed = {f for f, _, c in kiln if c == "DL1000"}

    def keep(t):
        f, _, c = t
        return c.startswith(args.rules) and c != "DL1000" and f not in unparsed

    k = collections.Counter(t for t in kiln if keep(t))
    h = collections.Counter(t for t in hado if keep(t))
    rules = sorted({c for _, _, c in k} | {c for _, _, c in h})
    rows = []
    tot_both = tot_h = tot_k = 0
    for r in rules:
        kr = collections.Counter({t: n for t, n in k.items() if t[2] == r})
        hr = collections.Counter({t: n for t, n in h.items() if t[2] == r})
        both = sum((kr & hr).values())
        only_h = sum((hr - kr).values())
        only_k = sum((kr - hr).values())
        tot_both, tot_h, tot_k = tot_both + both, tot_h + only_h, tot_k + only_k
        rate = both / (both + only_h + only_k) if both + only_h + only_k else 1.0
        rows.append((r, both, only_h, only_k, rate))
        if args.examples and (not args.rule or args.rule == r):
            for t in sorted((hr - kr).elements())[: args.examples]:
                print(f"  only-hadolint {r} {t[0]}:{t[1]}", file=sys.stderr)
            for t in sorted((kr - hr).elements())[: args.examples]:
                print(f"  only-kiln     {r} {t[0]}:{t[1]}", file=sys.stderr)

    print(f"{'rule':<8} {'agree':>7} {'only-hadolint':>14} {'only-kiln':>10} {'agreement':>10}")
    for r, both, oh, ok, rate in rows:
        print(f"{r:<8} {both:>7} {oh:>14} {ok:>10} {rate:>9.1%}")
    total = tot_both + tot_h + tot_k
    rate = tot_both / total if total else 1.0
    print(f"{'total':<8} {tot_both:>7} {tot_h:>14} {tot_k:>10} {rate:>9.1%}")
    files = {f for f, _, _ in hado} | {f for f, _, _ in kiln}
    print(f"\nfiles with findings: {len(files)}; hadolint could not parse {len(unparsed)} "
          f"(left out); kiln reports DL1000 for {len(kiln_unparsed)} "
          f"({len(kiln_unparsed & unparsed)} of them also unparsable by hadolint)")


if __name__ == "__main__":
    main()
