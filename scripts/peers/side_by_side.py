#!/usr/bin/env python3
"""side_by_side.py - lore and a peer library on the same scenario, one after the other.

    side_by_side.py SCENARIO.json [--peer torch|faiss|hnswlib] [--set KEY=VALUE ...]
                    [--filter KEY=VALUE ...] [-o DIR] [--lore-bench PATH] [--python PATH]
                    [--peer-arg ARG ...] [--lore-arg ARG ...] [--order lore-first|peer-first]

Runs `lore-bench run` into DIR/lore and the peer adapter into DIR/<peer> with the same
scenario, --set and --filter arguments, then prints one Markdown table row per point id.
The peer is PyTorch (torch_encoder.py, DIR/pytorch) for embed and nli scenarios and FAISS
(faiss_index.py, DIR/faiss) for search scenarios unless --peer says otherwise (hnswlib:
hnswlib_index.py, DIR/hnswlib, HNSW points only).

Before anything is measured, both sides must expand the sweep to the same point ids
(--dry-run), and the peer's parameter table must have lore-bench's names, types and
defaults (`lore-bench list`): a default that differs would change the scenario hash and
what runs. The runs are sequential, never concurrent: on a small machine they would steal
each other's cores.

Rows: embed/nli - items/s on both sides, the ratio lore / peer, both p50 batch latencies.
search - QPS on both sides, the ratio, recall@k on both sides (each against its own exact
ground truth, computed the same way), build time (train + add; "reused" builds report the
build they reuse) and p50 latencies. lore's embed operation includes tokenizing its texts;
PyTorch's is given token ids. A search peer's samples include its Python binding's cost
per call (the call_overhead_ns metric).

Exit status: 0 when both runs succeeded, otherwise the first failing run's exit status
(2 for bad input found before measuring, 3 when the two sides disagree on the points or on
the parameter table).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# --peer: (adapter script, output folder under DIR, title, workloads it runs)
PEERS = {
    "torch": ("torch_encoder.py", "pytorch", "PyTorch", ("embed", "nli")),
    "faiss": ("faiss_index.py", "faiss", "FAISS", ("search",)),
    "hnswlib": ("hnswlib_index.py", "hnswlib", "hnswlib", ("search",)),
}
DEFAULT_PEER = {"embed": "torch", "nli": "torch", "search": "faiss"}


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="side_by_side.py",
        description="Run lore-bench and a peer adapter (PyTorch for embed/nli, FAISS or "
                    "hnswlib for search) on one scenario and print a Markdown comparison per "
                    "point.")
    ap.add_argument("scenario")
    ap.add_argument("--peer", choices=sorted(PEERS),
                    help="peer library (default: torch for embed and nli, faiss for search)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-o", "--output", help="folder for lore/ and the peer's folder (default "
                                           "results/side-by-side-<scenario>-<time>)")
    ap.add_argument("--lore-bench", default=os.path.join(REPO, "build", "lore-bench"),
                    help="lore-bench executable (default %(default)s)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter for the peer adapter (default %(default)s)")
    ap.add_argument("--peer-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for the peer adapter (repeatable), e.g. "
                         "--peer-arg=--impl=bert")
    ap.add_argument("--lore-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for lore-bench run (repeatable), e.g. "
                         "--lore-arg=--blas-core=auto")
    ap.add_argument("--order", choices=["lore-first", "peer-first", "pytorch-first"],
                    default="lore-first", help="which side runs first (pytorch-first: the old "
                                               "name of peer-first)")
    return ap.parse_args(argv)


def scenario_workload(path):
    """The scenario's workload, or None when the file cannot be read (the runs will say why)."""
    try:
        with open(path, encoding="utf-8") as f:
            wl = json.load(f).get("workload")
        return wl if isinstance(wl, str) else None
    except (OSError, ValueError, AttributeError):
        return None


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


LIST_LINE = re.compile(r"^  (\S+)\s+(int|float|string|bool)\s+default (\S*)")


def lore_table(lore_bench, workload):
    """{name: (type, default)} of workload from `lore-bench list`, or None if unreadable."""
    r = subprocess.run([lore_bench, "list"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    table, inside = {}, False
    for line in r.stdout.splitlines():
        if not line.startswith(" "):
            inside = line.split(":", 1)[0].strip() == workload
            continue
        m = LIST_LINE.match(line)
        if inside and m:
            table[m.group(1)] = (m.group(2), m.group(3))
    return table or None


def peer_table(cmd_prefix, workload):
    r = subprocess.run(cmd_prefix + ["-", "--params-table"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    table = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == workload:
            table[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
    return table or None


def table_mismatch(lore, peer):
    """What differs between the two parameter tables (names in order, types, defaults)."""
    if list(lore) != list(peer):
        return "parameters (in order): lore %s; peer %s" % (" ".join(lore), " ".join(peer))
    for name in lore:
        lt, ld = lore[name]
        pt, pd = peer[name]
        if lt != pt or (ld != pd and not (lt == "float" and _same_float(ld, pd))):
            return "%s: lore %s default %r; peer %s default %r" % (name, lt, ld, pt, pd)
    return None


def _same_float(a, b):
    try:
        return float(a) == float(b)
    except ValueError:
        return False


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


def fmt_us(ns):
    if ns is None:
        return "-"
    return "%.1f us" % (ns / 1e3) if ns < 1e6 else "%.2f ms" % (ns / 1e6)


def ok(p):
    return p is not None and p.get("status") == "ok"


def metric_value(p, name):
    return p.get("metrics", {}).get(name, {}).get("value") if ok(p) else None


def table(lore_pts, peer_pts, order, title):
    unit = None
    for p in list(lore_pts.values()) + list(peer_pts.values()):
        unit = unit or p.get("item_unit")
    unit = unit or "item"
    lines = [
        "| point | lore %s/s | %s %s/s | lore / %s | lore p50 | %s p50 |"
        % (unit, title, unit, title, title),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for pid in order:
        lp, tp = lore_pts.get(pid), peer_pts.get(pid)
        lr = lp["throughput"]["items_per_s"] if ok(lp) else None
        tr = tp["throughput"]["items_per_s"] if ok(tp) else None
        ratio = "%.2fx" % (lr / tr) if lr and tr else "-"
        l50 = lp["latency_ns"]["p50"] if lr is not None else None
        t50 = tp["latency_ns"]["p50"] if tr is not None else None
        lcell = fmt_rate(lr) if lp is None or lr is not None else "error"
        tcell = fmt_rate(tr) if tp is None or tr is not None else "error"
        lines.append("| %s | %s | %s | %s | %s | %s |"
                     % (pid, lcell, tcell, ratio, fmt_ms(l50), fmt_ms(t50)))
    return "\n".join(lines)


def search_table(lore_pts, peer_pts, order, title):
    lines = [
        "| point | lore QPS | %s QPS | lore / %s | lore recall@k | %s recall@k | lore build s "
        "| %s build s | lore p50 | %s p50 |" % (title, title, title, title, title),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cells(p):
        if p is None:
            return "-", None, "-", "-", None
        if not ok(p):
            return "error", None, "-", "-", None
        q = p["throughput"]["items_per_s"]
        rec = metric_value(p, "recall_at_k")
        b = metric_value(p, "build_s")
        reused = "reused" in p.get("labels", {}).get("build", "")
        return (fmt_rate(q), q, "-" if rec is None else "%.4f" % rec,
                "-" if b is None else "%.2f%s" % (b, " (r)" if reused else ""),
                p["latency_ns"]["p50"])

    for pid in order:
        lq, lqv, lrec, lb, l50 = cells(lore_pts.get(pid))
        tq, tqv, trec, tb, t50 = cells(peer_pts.get(pid))
        ratio = "%.2fx" % (lqv / tqv) if lqv and tqv else "-"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (pid, lq, tq, ratio, lrec, trec, lb, tb, fmt_us(l50), fmt_us(t50)))
    return "\n".join(lines)


def labels_of(doc, key):
    seen = []
    for p in doc.get("points", []):
        v = p.get("labels", {}).get(key) if p.get("status") == "ok" else None
        if v and v not in seen:
            seen.append(v)
    return " | ".join(seen) or "?"


def describe(lore_doc, peer_doc, peer, title):
    lh, th = lore_doc.get("host", {}), peer_doc.get("host", {})
    if peer == "torch":
        out = [
            "lore %s, OpenBLAS core %s; threads: %s" % (lore_doc.get("lore_version", "?"),
                                                        lh.get("blas", {}).get("core", "?"),
                                                        labels_of(lore_doc, "threads")),
            "%s, %s; OpenBLAS core %s; %s; threads: %s" % (
                peer_doc.get("tool", "pytorch"), labels_of(peer_doc, "impl"),
                th.get("blas", {}).get("core", "?"), labels_of(peer_doc, "cpu_capability"),
                labels_of(peer_doc, "threads")),
            "lore's time includes tokenization; PyTorch's does not (pre-tokenized ids). "
            "Throughput is items/s over the measured windows; p50 is the batch latency.",
        ]
    else:
        overheads = sorted({p["metrics"]["call_overhead_ns"]["value"]
                            for p in peer_doc.get("points", [])
                            if ok(p) and "call_overhead_ns" in p.get("metrics", {})})
        out = [
            "lore %s; BLAS: %s" % (lore_doc.get("lore_version", "?"), labels_of(lore_doc, "blas")),
            "%s; %s; threads: %s; %s" % (peer_doc.get("tool", peer), labels_of(peer_doc, "kernels"),
                                         labels_of(peer_doc, "threads"),
                                         labels_of(peer_doc, "call")),
            "QPS: queries/s over the measured windows (one query per operation in single mode, "
            "all queries per call in batch mode); recall@k against each side's exact ground "
            "truth (the same brute force and tie rule); build = train + add, (r) = a build "
            "reused from an earlier point; p50 is the operation latency.",
            "%s's samples include its Python binding's cost per call: %s." % (
                title, ", ".join("%.1f us" % (x / 1e3) for x in overheads) or "?"),
        ]
        lh_, th_ = labels_of(lore_doc, "data_hash"), labels_of(peer_doc, "data_hash")
        if lh_ != "?" and th_.startswith("fnv1a64:"):
            out.append("data: %s" % ("the same vectors on both sides (data_hash %s)" % lh_
                                     if lh_ == th_ else
                                     "WARNING: the two sides indexed different vectors "
                                     "(data_hash %s vs %s)" % (lh_, th_)))
        else:
            out.append("data: lore-bench's generator or the same files on both sides (the "
                       "data_hash check is skipped above 4 MiB; see data_sha256)")
    if lore_doc["scenario"].get("hash") != peer_doc["scenario"].get("hash"):
        out.append("WARNING: the effective scenarios differ (hash %s vs %s)"
                   % (lore_doc["scenario"].get("hash"), peer_doc["scenario"].get("hash")))
    return "\n".join("- " + x for x in out)


def main(argv):
    o = parse_args(argv[1:])
    if not (os.path.isfile(o.lore_bench) and os.access(o.lore_bench, os.X_OK)):
        print("side_by_side: lore-bench not found at %s (build it, or pass --lore-bench)"
              % o.lore_bench, file=sys.stderr)
        return 2
    workload = scenario_workload(o.scenario)
    peer = o.peer or DEFAULT_PEER.get(workload, "torch")
    script, folder, title, runs_workloads = PEERS[peer]
    if workload is not None and workload not in runs_workloads:
        print("side_by_side: --peer %s runs only %s scenarios (this one is %s)"
              % (peer, " and ".join(runs_workloads), workload), file=sys.stderr)
        return 2
    base = o.output or os.path.join(
        "results", "side-by-side-%s-%s" % (os.path.splitext(os.path.basename(o.scenario))[0],
                                           time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    lore_dir, peer_dir = os.path.join(base, "lore"), os.path.join(base, folder)
    args = common_args(o)
    lore_cmd = [o.lore_bench, "run"] + args + o.lore_arg
    peer_prefix = [o.python, os.path.join(HERE, script)]
    peer_cmd = peer_prefix + args + o.peer_arg

    # Same points on both sides, checked before anything is measured.
    lore_ids, err = points_of(lore_cmd + ["--dry-run"])
    if err:
        print("side_by_side: lore-bench rejected the arguments (exit %d):\n%s" % err,
              file=sys.stderr)
        return err[0]
    peer_ids, err = points_of(peer_cmd + ["--dry-run"])
    if err:
        print("side_by_side: %s rejected the arguments (exit %d):\n%s" % ((script,) + err),
              file=sys.stderr)
        return err[0]
    if lore_ids != peer_ids:
        print("side_by_side: the two sides expand the sweep differently:\n  lore:    %s\n"
              "  %-8s %s" % (lore_ids[:5], peer + ":", peer_ids[:5]), file=sys.stderr)
        return 3
    # Same parameters and defaults: a default that differs changes what runs and the hash.
    if workload is not None:
        lt, pt = lore_table(o.lore_bench, workload), peer_table(peer_prefix, workload)
        if lt is None or pt is None:
            print("side_by_side: warning: could not read the %s parameter table of %s; not "
                  "checked" % (workload, "lore-bench list" if lt is None else script),
                  file=sys.stderr)
        else:
            why = table_mismatch(lt, pt)
            if why:
                print("side_by_side: %s's %s parameter table differs from lore-bench's (update "
                      "the adapter): %s" % (script, workload, why), file=sys.stderr)
                return 3

    runs = [("lore", lore_cmd + ["-o", lore_dir]), (peer, peer_cmd + ["-o", peer_dir])]
    if o.order != "lore-first":
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
    for name, d in (("lore", lore_dir), (peer, peer_dir)):
        path = os.path.join(d, "result.json")
        try:
            docs[name] = load_points(path)
        except (OSError, ValueError) as e:
            print("side_by_side: %s wrote no readable result (%s): %s" % (name, path, e),
                  file=sys.stderr)
            docs[name] = None
    if docs["lore"] and docs[peer]:
        order = [line.split("id=", 1)[1] for line in lore_ids]
        print("## %s\n" % os.path.basename(o.scenario))
        print(describe(docs["lore"][0], docs[peer][0], peer, title))
        print()
        make = search_table if docs["lore"][0]["scenario"].get("workload") == "search" else table
        print(make(docs["lore"][1], docs[peer][1], order, title))
        print("\nresults: %s/result.json, %s/result.json" % (lore_dir, peer_dir))
    for name, _ in runs:
        if status[name] != 0:
            print("side_by_side: %s exited %d" % (name, status[name]), file=sys.stderr)
            return status[name]
    if not (docs["lore"] and docs[peer]):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
