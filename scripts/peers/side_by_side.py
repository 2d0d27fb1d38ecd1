#!/usr/bin/env python3
"""side_by_side.py - lore and PyTorch on the same embed/nli scenario, one after the other.

    side_by_side.py SCENARIO.json [--set KEY=VALUE ...] [--filter KEY=VALUE ...] [-o DIR]
                    [--lore-bench PATH] [--python PATH] [--peer-arg ARG ...] [--order ORDER]

Runs `lore-bench run` into DIR/lore and scripts/peers/torch_encoder.py into DIR/pytorch with
the same scenario, --set and --filter arguments (both expand the sweep the same way, so the
point ids match; the two point lists are checked against each other with --dry-run before
anything is measured), then prints one Markdown table row per point id: lore items/s,
PyTorch items/s, the ratio lore / PyTorch and both p50 batch latencies. The runs are
sequential, never concurrent: on a small machine they would steal each other's cores.

lore's operation includes tokenizing its texts; PyTorch's is given token ids. The ratio
therefore counts lore's tokenizer against lore.

Exit status: 0 when both runs succeeded, otherwise the first failing run's exit status
(2 for bad input found before measuring).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="side_by_side.py",
        description="Run lore-bench and the PyTorch peer on one embed/nli scenario and print "
                    "a Markdown comparison per point.")
    ap.add_argument("scenario")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-o", "--output", help="folder for lore/ and pytorch/ (default "
                                           "results/side-by-side-<scenario>-<time>)")
    ap.add_argument("--lore-bench", default=os.path.join(REPO, "build", "lore-bench"),
                    help="lore-bench executable (default %(default)s)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter for the PyTorch peer (default %(default)s)")
    ap.add_argument("--peer-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for torch_encoder.py (repeatable), e.g. "
                         "--peer-arg=--impl=bert")
    ap.add_argument("--lore-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for lore-bench run (repeatable), e.g. "
                         "--lore-arg=--blas-core=auto")
    ap.add_argument("--order", choices=["lore-first", "pytorch-first"], default="lore-first")
    return ap.parse_args(argv)


def common_args(o):
    args = [o.scenario]
    for s in o.set:
        args += ["--set", s]
    for f in o.filter:
        args += ["--filter", f]
    return args


def points_of(cmd):
    """The `index=N  id=ID` lines of a --dry-run, or (exit status, stderr)."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.returncode, r.stderr.strip())
    ids = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("index=")]
    return ids, None


def load_points(path):
    with open(path) as f:
        doc = json.load(f)
    return doc, {p["id"]: p for p in doc.get("points", [])}


def fmt_rate(x):
    if x is None:
        return "-"
    return "%.1f" % x if x < 1000 else "{:,.0f}".format(x)


def fmt_ms(ns):
    return "-" if ns is None else "%.2f ms" % (ns / 1e6)


def table(lore_doc, lore_pts, torch_doc, torch_pts, order):
    unit = None
    for p in list(lore_pts.values()) + list(torch_pts.values()):
        unit = unit or p.get("item_unit")
    unit = unit or "item"
    lines = [
        "| point | lore %s/s | PyTorch %s/s | lore / PyTorch | lore p50 | PyTorch p50 |"
        % (unit, unit),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for pid in order:
        lp, tp = lore_pts.get(pid), torch_pts.get(pid)
        lr = lp["throughput"]["items_per_s"] if lp and lp.get("status") == "ok" else None
        tr = tp["throughput"]["items_per_s"] if tp and tp.get("status") == "ok" else None
        ratio = "%.2fx" % (lr / tr) if lr and tr else "-"
        l50 = lp["latency_ns"]["p50"] if lr is not None else None
        t50 = tp["latency_ns"]["p50"] if tr is not None else None
        lcell = fmt_rate(lr) if lp is None or lr is not None else "error"
        tcell = fmt_rate(tr) if tp is None or tr is not None else "error"
        lines.append("| %s | %s | %s | %s | %s | %s |"
                     % (pid, lcell, tcell, ratio, fmt_ms(l50), fmt_ms(t50)))
    return "\n".join(lines)


def describe(lore_doc, torch_doc):
    lh, th = lore_doc.get("host", {}), torch_doc.get("host", {})
    def labels(doc, key):
        seen = []
        for p in doc.get("points", []):
            v = p.get("labels", {}).get(key) if p.get("status") == "ok" else None
            if v and v not in seen:
                seen.append(v)
        return " | ".join(seen) or "?"

    out = [
        "lore %s, OpenBLAS core %s; threads: %s" % (lore_doc.get("lore_version", "?"),
                                                    lh.get("blas", {}).get("core", "?"),
                                                    labels(lore_doc, "threads")),
        "%s, %s; OpenBLAS core %s; %s; threads: %s" % (
            torch_doc.get("tool", "pytorch"), labels(torch_doc, "impl"),
            th.get("blas", {}).get("core", "?"), labels(torch_doc, "cpu_capability"),
            labels(torch_doc, "threads")),
        "lore's time includes tokenization; PyTorch's does not (pre-tokenized ids). "
        "Throughput is items/s over the measured windows; p50 is the batch latency.",
    ]
    if lore_doc["scenario"].get("hash") != torch_doc["scenario"].get("hash"):
        out.append("WARNING: the effective scenarios differ (hash %s vs %s)"
                   % (lore_doc["scenario"].get("hash"), torch_doc["scenario"].get("hash")))
    return "\n".join("- " + x for x in out)


def main(argv):
    o = parse_args(argv[1:])
    if not (os.path.isfile(o.lore_bench) and os.access(o.lore_bench, os.X_OK)):
        print("side_by_side: lore-bench not found at %s (build it, or pass --lore-bench)"
              % o.lore_bench, file=sys.stderr)
        return 2
    base = o.output or os.path.join(
        "results", "side-by-side-%s-%s" % (os.path.splitext(os.path.basename(o.scenario))[0],
                                           time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    lore_dir, torch_dir = os.path.join(base, "lore"), os.path.join(base, "pytorch")
    args = common_args(o)
    lore_cmd = [o.lore_bench, "run"] + args + o.lore_arg
    torch_cmd = [o.python, os.path.join(HERE, "torch_encoder.py")] + args + o.peer_arg

    # Same points on both sides, checked before anything is measured.
    lore_ids, err = points_of(lore_cmd + ["--dry-run"])
    if err:
        print("side_by_side: lore-bench rejected the arguments (exit %d):\n%s" % err,
              file=sys.stderr)
        return err[0]
    torch_ids, err = points_of(torch_cmd + ["--dry-run"])
    if err:
        print("side_by_side: torch_encoder.py rejected the arguments (exit %d):\n%s" % err,
              file=sys.stderr)
        return err[0]
    if lore_ids != torch_ids:
        print("side_by_side: the two sides expand the sweep differently:\n  lore:    %s\n"
              "  pytorch: %s" % (lore_ids[:5], torch_ids[:5]), file=sys.stderr)
        return 3

    runs = [("lore", lore_cmd + ["-o", lore_dir]), ("pytorch", torch_cmd + ["-o", torch_dir])]
    if o.order == "pytorch-first":
        runs.reverse()
    status = {}
    for name, cmd in runs:
        print("side_by_side: running %s: %s" % (name, " ".join(cmd)), file=sys.stderr)
        sys.stderr.flush()
        # Their stdout (the result path) goes to stderr: stdout is the Markdown report.
        status[name] = subprocess.run(cmd, stdout=sys.stderr).returncode
        if status[name] == 130:
            print("side_by_side: %s interrupted" % name, file=sys.stderr)
            return 130

    docs = {}
    for name, d in (("lore", lore_dir), ("pytorch", torch_dir)):
        path = os.path.join(d, "result.json")
        try:
            docs[name] = load_points(path)
        except (OSError, ValueError) as e:
            print("side_by_side: %s wrote no readable result (%s): %s" % (name, path, e),
                  file=sys.stderr)
            docs[name] = None
    if docs["lore"] and docs["pytorch"]:
        order = [line.split("id=", 1)[1] for line in lore_ids]
        print("## %s\n" % os.path.basename(o.scenario))
        print(describe(docs["lore"][0], docs["pytorch"][0]))
        print()
        print(table(docs["lore"][0], docs["lore"][1], docs["pytorch"][0], docs["pytorch"][1],
                    order))
        print("\nresults: %s/result.json, %s/result.json" % (lore_dir, torch_dir))
    for name, _ in runs:
        if status[name] != 0:
            print("side_by_side: %s exited %d" % (name, status[name]), file=sys.stderr)
            return status[name]
    if not (docs["lore"] and docs["pytorch"]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
