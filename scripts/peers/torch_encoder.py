#!/usr/bin/env python3
"""torch_encoder.py - the PyTorch peer of lore-bench's `embed` and `nli` workloads.

    torch_encoder.py SCENARIO.json [-o DIR] [--set KEY=VALUE ...] [--filter KEY=VALUE ...]
                     [--dry-run] [-q] [--impl fastpath|bert] [--blas-core NAME]
                     [--intra-op-threads N|T] [--blas-threads N|T] [--omp-wait-policy P]

Reads the same scenario files as `lore-bench run` (schema lore-scenario/1), expands the
sweep exactly as lore-bench does (harness/sweep.c: an odometer whose last axis turns
fastest; point ids "key=value,..." over the swept keys in file order, "default" with no
sweep) and measures every point with PyTorch: a BERT encoder of the point's tier shapes
(engine/src/model/tiers.c), random weights (normal, std 0.02), eval() and
torch.inference_mode(). Each measured operation embeds (embed) or classifies (nli) one
batch of `batch_size` pre-tokenized inputs: the token ids are made in setup, so the
operation holds no tokenizer. lore's operation does tokenize; every point says so in its
labels.

Inputs: 256 base inputs (lore's embed workload also cycles 256 base texts), embed texts
of lengths uniform in [seq_len_min, seq_len] (all seq_len when seq_len_min is 0), NLI
pairs of exactly seq_len tokens ([CLS] premise [SEP] hypothesis [SEP], the premise two
thirds of the words as in harness/workloads/nli.c). A batch is padded to its longest
input with an attention mask (padding=max: to seq_len), which is how PyTorch runs
mixed lengths. The lengths follow lore's distribution, not its exact sequence (lore draws
them from its text generator's stream).

Measurement: the scenario's "measure" block with lore's meaning (harness/runner.c):
warm-up of at least warmup_ops operations and warmup_s seconds, then `repetitions`
windows whose per-operation samples are timed back to back with time.perf_counter_ns
(CLOCK_MONOTONIC); a window ends with min_samples and min_time_s met, or at max_time_s,
or at max_samples. Latency percentiles use the same linear (type 7) definition.
Output: DIR/result.json (schema lore-bench/1, the structure lore-bench writes) and
DIR/result.csv, each written to a temporary file and renamed.

Threads: Debian's PyTorch runs its element-wise kernels on an OpenMP pool and its fp32
GEMMs in OpenBLAS, which keeps a thread pool of its own that torch.set_num_threads does
not touch. Both pools are set explicitly per point (see THREAD POLICY below and the
`threads` label); on a 2-core machine two spinning pools slow each other down.

Exit codes: 0 ok, 2 bad input or usage, 3 a point failed or a runtime failure,
130 interrupted (finished points are written, the result is marked incomplete).
Needs python3, numpy and torch (Debian: python3-torch; scripts/install-deps.sh --peers).
"""

import argparse
import ctypes
import ctypes.util
import datetime
import gc
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 0, 3, 2, 130
SCENARIO_SCHEMA = "lore-scenario/1"
RESULT_SCHEMA = "lore-bench/1"
SWEEP_MAX_POINTS = 100000
MAX_SAMPLES_TOTAL = 64 * 1024 * 1024
N_BASE = 256  # base inputs cycled by the operations, as in lore's embed and nli workloads

# THREAD POLICY, chosen by measurement on the 2-core reference VM (README.md, "Threads"):
# for a point of `threads` T, the pool that runs the GEMMs gets T threads and the other one
# gets 1, so no second pool spins against them. fp32: GEMMs are OpenBLAS's, so OpenMP
# (element-wise work) 1 and OpenBLAS T; both pools at T was slower at every shape tried
# unless OMP_WAIT_POLICY=PASSIVE, which only brought it level. bf16 (autocast): GEMMs are
# oneDNN's on the OpenMP pool, so OpenMP T and OpenBLAS 1. --intra-op-threads and
# --blas-threads override it.
DEFAULT_THREADS = {"f32": ("1", "T"), "bf16": ("T", "1")}  # precision: (intra-op, OpenBLAS)
DEFAULT_IMPL = "fastpath"

# ---- the workloads' parameter tables (mirrors harness/workloads/{embed,nli}.c) ----------

INT, FLOAT, STRING, BOOL = "int", "float", "string", "bool"
THREAD_MODES = ["blas", "workers"]
PADDINGS = ["none", "batch", "max"]
PRECISIONS = ["f32", "bf16"]


class Spec:
    def __init__(self, name, type_, default, lo=0.0, hi=0.0, choices=None, unit="", desc=""):
        self.name, self.type, self.default = name, type_, default
        self.min, self.max, self.choices = lo, hi, choices
        self.unit, self.description = unit, desc


WORKLOADS = {
    "embed": {
        "item_unit": "text",
        "params": [
            Spec("tier", STRING, "minilm-l6", choices=["minilm-l3", "minilm-l6", "minilm-l12",
                                                       "bge-small", "bge-base"]),
            Spec("model_dir", STRING, ""),
            Spec("batch_size", INT, "32", 1, 4096, unit="texts"),
            Spec("seq_len", INT, "128", 3, 512, unit="tokens"),
            Spec("seq_len_min", INT, "0", 0, 512, unit="tokens"),
            # The order of harness/workloads/embed.c: the scenario hash depends on it.
            Spec("cache", BOOL, "false"),
            Spec("cache_mb", FLOAT, "64", 0.01, 65536, unit="MiB"),
            Spec("dup_ratio", FLOAT, "0", 0, 1),
            Spec("threads", INT, "1", 1, 64, unit="threads"),
            Spec("worker_mode", STRING, "blas", choices=THREAD_MODES),
            Spec("padding", STRING, "none", choices=PADDINGS),
            Spec("sort", BOOL, "true"),
            Spec("precision", STRING, "f32", choices=PRECISIONS),
            Spec("seed", INT, "1", 0, 1e15),
        ],
    },
    "nli": {
        "item_unit": "pair",
        "params": [
            Spec("tier", STRING, "nli-minilm-l6", choices=["nli-minilm-l6"]),
            Spec("model_dir", STRING, ""),
            Spec("batch_size", INT, "8", 1, 4096, unit="pairs"),
            Spec("seq_len", INT, "128", 5, 512, unit="tokens"),
            Spec("threads", INT, "1", 1, 64, unit="threads"),
            Spec("worker_mode", STRING, "blas", choices=THREAD_MODES),
            Spec("padding", STRING, "none", choices=PADDINGS),
            Spec("sort", BOOL, "true"),
            Spec("precision", STRING, "f32", choices=PRECISIONS),
            Spec("seed", INT, "1", 0, 1e15),
        ],
    },
}

# name: (model shapes of, kind, layers, hidden, heads, ffn, vocab, positions, types, labels,
#        pooling); engine/src/model/tiers.c. All use erf GELU and LayerNorm eps 1e-12.
TIERS = {
    "minilm-l3": ("sentence-transformers/paraphrase-MiniLM-L3-v2", "embed", 3, 384, 12, 1536,
                  30522, 512, 2, 0, "mean"),
    "minilm-l6": ("sentence-transformers/all-MiniLM-L6-v2", "embed", 6, 384, 12, 1536, 30522,
                  512, 2, 0, "mean"),
    "minilm-l12": ("sentence-transformers/all-MiniLM-L12-v2", "embed", 12, 384, 12, 1536, 30522,
                   512, 2, 0, "mean"),
    "bge-small": ("BAAI/bge-small-en-v1.5", "embed", 12, 384, 12, 1536, 30522, 512, 2, 0, "cls"),
    "bge-base": ("BAAI/bge-base-en-v1.5", "embed", 12, 768, 12, 3072, 30522, 512, 2, 0, "cls"),
    "nli-minilm-l6": ("cross-encoder/nli-MiniLM2-L6-H768", "nli", 6, 768, 12, 3072, 30522, 512,
                      2, 3, "cls"),
}
LN_EPS = 1e-12
CLS_ID, SEP_ID, PAD_ID, FIRST_WORD_ID = 101, 102, 0, 1000  # BERT WordPiece ids


def tier_flops(tier, n_tokens):
    """lore_tier_flops (engine/src/model/tiers.c) for one sequence of n_tokens."""
    _, kind, layers, h, _, f, _, _, _, labels, _ = TIERS[tier]
    n = float(n_tokens)
    per_token = 2.0 * h * (4.0 * h + 2.0 * f)  # fused QKV, output projection, FFN in and out
    attention = 4.0 * n * n * h  # Q K^T and P V over all heads
    flops = layers * (n * per_token + attention)
    if kind == "nli":
        flops += 2.0 * h * h + 2.0 * h * labels  # pooler and classifier on [CLS]
    return flops


# ---- values: parsing, checking, formatting (mirrors harness/workloads/registry.c) --------


class BadInput(Exception):
    """Bad scenario, --set or --filter: exit 2 with the message."""


TYPE_WORDS = {INT: "an integer", FLOAT: "a number", STRING: "a string", BOOL: "true or false"}


def g15(x):
    """C's %.15g."""
    return "%.15g" % x


def check_value(spec, v):
    """Returns None, or what is wrong (bench_value_check's wording)."""
    if spec.type == INT:
        if v < spec.min or v > spec.max:
            return "must be in [%s, %s] (got %d)" % (g15(spec.min), g15(spec.max), v)
    elif spec.type == FLOAT:
        if not math.isfinite(v) or v < spec.min or v > spec.max:
            return "must be in [%s, %s] (got %s)" % (g15(spec.min), g15(spec.max), g15(v))
    elif spec.type == STRING and spec.choices and v not in spec.choices:
        return 'must be one of %s (got "%s")' % (", ".join(spec.choices), v)
    return None


INT_RE = re.compile(r"[+-]?[0-9]+\Z")
FLOAT_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


def parse_value(spec, text):
    """--set / --filter text to a value of spec's type; raises ValueError(what is wrong)."""
    if spec.type == INT:
        if not INT_RE.match(text) or abs(int(text)) > 2**63 - 1:
            raise ValueError('must be an integer (got "%s")' % text)
        v = int(text)
    elif spec.type == FLOAT:
        if not FLOAT_RE.match(text) or not math.isfinite(float(text)):
            raise ValueError('must be a number (got "%s")' % text)
        v = float(text)
    elif spec.type == BOOL:
        if text not in ("true", "false"):
            raise ValueError('must be true or false (got "%s")' % text)
        v = text == "true"
    else:
        v = text
    why = check_value(spec, v)
    if why:
        raise ValueError(why)
    return v


def format_value(spec, v):
    """bench_value_format: the text of a value in a point id."""
    if spec.type == INT:
        return "%d" % v
    if spec.type == FLOAT:
        for digits in range(1, 17):  # the shortest form that reads back exactly
            text = "%.*g" % (digits, v)
            if float(text) == v:
                return text
        return "%.17g" % v
    if spec.type == BOOL:
        return "true" if v else "false"
    return v


def render(item):
    """A short rendering of a JSON value for "(got X)"."""
    text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- scenarios (mirrors harness/scenario.c) ---------------------------------------------

POLICY_FIELDS = [  # name, integer?, inclusive range; the order of the effective scenario
    ("warmup_ops", True, 0, 1e9),
    ("warmup_s", False, 0, 3600),
    ("min_samples", True, 1, 1e8),
    ("max_samples", True, 1, 1e8),
    ("min_time_s", False, 0, 86400),
    ("max_time_s", False, 1e-6, 86400),
    ("repetitions", True, 1, 1000),
]
POLICY_DEFAULT = {"warmup_ops": 1, "warmup_s": 0.1, "min_samples": 10, "max_samples": 100000,
                  "min_time_s": 0.5, "max_time_s": 10.0, "repetitions": 1}


class JObj(dict):
    """A JSON object that remembers keys it saw twice (json drops them silently)."""

    dups = ()


def json_object(pairs):
    o = JObj()
    dups = []
    for k, v in pairs:
        if k in o:
            dups.append(k)
        o[k] = v
    o.dups = dups
    return o


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_integer(x):
    return is_number(x) and math.isfinite(x) and x == math.floor(x) and abs(x) <= 9e15


class Scenario:
    def __init__(self):
        self.path = self.name = self.description = self.workload = None
        self.fixed = {}  # param name -> value (defaults, then "params", then --set)
        self.axes = []  # [(param name, [values])], in file order; the first varies slowest
        self.policy = dict(POLICY_DEFAULT)
        self.counters = None

    def specs(self):
        return WORKLOADS[self.workload]["params"]

    def spec(self, name):
        for s in self.specs():
            if s.name == name:
                return s
        return None

    def axis(self, name):
        for a in self.axes:
            if a[0] == name:
                return a
        return None


def fail_at(path, where, what, got=None, has_got=False):
    if has_got:
        raise BadInput("%s: %s: %s (got %s)" % (path, where, what, render(got)))
    raise BadInput("%s: %s: %s" % (path, where, what))


def json_to_value(spec, item, file, where):
    what = "must be " + TYPE_WORDS[spec.type]
    if spec.type == INT:
        if not is_integer(item):
            fail_at(file, where, what, item, True)
        v = int(item)
    elif spec.type == FLOAT:
        if not is_number(item):
            fail_at(file, where, what, item, True)
        v = float(item)
    elif spec.type == BOOL:
        if not isinstance(item, bool):
            fail_at(file, where, what, item, True)
        v = item
    else:
        if not isinstance(item, str):
            fail_at(file, where, what, item, True)
        v = item
    why = check_value(spec, v)
    if why:
        raise BadInput("%s: %s: %s" % (file, where, why))
    return v


def check_dups(obj, file, where):
    if obj.dups:
        fail_at(file, "%s.%s" % (where, obj.dups[0]), "duplicate field")


def check_policy(p, file):
    if p["max_samples"] < p["min_samples"]:
        raise BadInput("%s: $.measure.max_samples: must be >= min_samples %d (got %d)"
                       % (file, p["min_samples"], p["max_samples"]))
    if p["max_time_s"] < p["min_time_s"]:
        raise BadInput("%s: $.measure.max_time_s: must be >= min_time_s %s (got %s)"
                       % (file, "%g" % p["min_time_s"], "%g" % p["max_time_s"]))
    if p["max_samples"] * p["repetitions"] > MAX_SAMPLES_TOTAL:
        raise BadInput("%s: $.measure.max_samples: max_samples x repetitions must be at most "
                       "%d (got %d x %d)" % (file, MAX_SAMPLES_TOTAL, p["max_samples"],
                                             p["repetitions"]))


NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
ALL_WORKLOADS = ["sgemm", "stream", "noop", "embed", "nli"]


def load_scenario(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise BadInput("%s: cannot open: %s" % (path, e.strerror))
    try:
        text = raw.decode("utf-8")
        root = json.loads(text, object_pairs_hook=json_object)
    except UnicodeDecodeError:
        raise BadInput("%s: $: not UTF-8 text" % path)
    except json.JSONDecodeError as e:
        raise BadInput("%s: $: invalid JSON at line %d, column %d (%s)"
                       % (path, e.lineno, e.colno, e.msg))
    s = Scenario()
    s.path = path
    if not isinstance(root, dict):
        fail_at(path, "$", "must be a JSON object", root, True)
    top = ["schema", "name", "description", "workload", "params", "sweep", "measure",
           "counters"]
    for k in root:
        if k not in top:
            fail_at(path, "$." + k, "unknown field; expected one of: " + ", ".join(top))
    check_dups(root, path, "$")
    if "schema" in root and root["schema"] != SCENARIO_SCHEMA:
        fail_at(path, "$.schema", 'must be "%s"' % SCENARIO_SCHEMA, root["schema"], True)
    if "name" not in root:
        fail_at(path, "$.name", "missing required field")
    if not isinstance(root["name"], str) or not NAME_RE.match(root["name"]):
        fail_at(path, "$.name", "must be 1-64 characters of [A-Za-z0-9_.-]", root["name"], True)
    desc = root.get("description", "")
    if not isinstance(desc, str):
        fail_at(path, "$.description", "must be a string", desc, True)
    if "workload" not in root:
        fail_at(path, "$.workload", "missing required field")
    wl = root["workload"]
    if not isinstance(wl, str):
        fail_at(path, "$.workload", "must be a string", wl, True)
    if wl not in WORKLOADS:
        if wl in ALL_WORKLOADS:
            raise BadInput("%s: $.workload: the PyTorch peer runs only the embed and nli "
                           'workloads (got "%s")' % (path, wl))
        fail_at(path, "$.workload", "unknown workload; known: " + " ".join(ALL_WORKLOADS), wl,
                True)
    s.name, s.description, s.workload = root["name"], desc, wl
    for spec in s.specs():
        s.fixed[spec.name] = parse_value(spec, spec.default)

    params = root.get("params")
    if params is not None:
        if not isinstance(params, dict):
            fail_at(path, "$.params", "must be an object", params, True)
        check_dups(params, path, "$.params")
        for k, item in params.items():
            spec = s.spec(k)
            if not spec:
                fail_at(path, "$.params." + k,
                        "unknown parameter of workload '%s' (see lore-bench list)" % wl)
            s.fixed[k] = json_to_value(spec, item, path, "$.params." + k)
    sweep = root.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict):
            fail_at(path, "$.sweep", "must be an object", sweep, True)
        check_dups(sweep, path, "$.sweep")
        for k, item in sweep.items():
            where = "$.sweep." + k
            spec = s.spec(k)
            if not spec:
                fail_at(path, where, "unknown parameter of workload '%s' (see lore-bench list)"
                        % wl)
            if params is not None and k in params:
                fail_at(path, where, "is also fixed in $.params; give it in one place")
            if not isinstance(item, list):
                fail_at(path, where, "must be a list of values", item, True)
            if not item:
                fail_at(path, where, "must not be empty", item, True)
            values = []
            for j, v in enumerate(item):
                vw = "%s[%d]" % (where, j)
                val = json_to_value(spec, v, path, vw)
                if val in values:
                    fail_at(path, vw, "duplicate sweep value", v, True)
                values.append(val)
            s.axes.append((k, values))
    measure = root.get("measure")
    if measure is not None:
        if not isinstance(measure, dict):
            fail_at(path, "$.measure", "must be an object", measure, True)
        names = [f[0] for f in POLICY_FIELDS]
        for k in measure:
            if k not in names:
                fail_at(path, "$.measure." + k, "unknown field; expected one of: "
                        + ", ".join(names))
        check_dups(measure, path, "$.measure")
        for name, is_int, lo, hi in POLICY_FIELDS:
            if name not in measure:
                continue
            v = measure[name]
            where = "$.measure." + name
            if not (is_integer(v) if is_int else is_number(v)):
                fail_at(path, where, "must be an integer" if is_int else "must be a number", v,
                        True)
            if v < lo or v > hi:
                fail_at(path, where, "must be in [%g, %g]" % (lo, hi), v, True)
            s.policy[name] = int(v) if is_int else float(v)
        check_policy(s.policy, path)
    counters = root.get("counters")
    if counters is not None:
        if not isinstance(counters, list):
            fail_at(path, "$.counters", "must be a list of PAPI event names", counters, True)
        seen = []
        for i, c in enumerate(counters):
            where = "$.counters[%d]" % i
            if not isinstance(c, str) or not c or len(c.encode()) > 90:
                fail_at(path, where, "must be a PAPI event name of 1-90 characters", c, True)
            if c in seen:
                fail_at(path, where, "duplicate counter", c, True)
            seen.append(c)
        s.counters = seen
    return s


def apply_set(s, assignment):
    """One --set KEY=VALUE (bench_scenario_apply_set)."""
    key, eq, text = assignment.partition("=")
    if not eq or not key:
        raise BadInput("--set %s: expected KEY=VALUE" % assignment)
    if key.startswith("measure."):
        field = [f for f in POLICY_FIELDS if f[0] == key[8:]]
        if not field:
            raise BadInput("--set %s: unknown measurement field '%s'" % (assignment, key[8:]))
        name, is_int, lo, hi = field[0]
        try:
            v = float(text) if FLOAT_RE.match(text) else None
        except ValueError:
            v = None
        if v is None or not math.isfinite(v) or (is_int and v != math.floor(v)):
            raise BadInput('--set %s: must be %s (got "%s")'
                           % (assignment, "an integer" if is_int else "a number", text))
        if v < lo or v > hi:
            raise BadInput("--set %s: must be in [%g, %g] (got %s)" % (assignment, lo, hi, text))
        p = dict(s.policy)
        p[name] = int(v) if is_int else v
        try:
            check_policy(p, "--set")
        except BadInput as e:
            raise BadInput("--set %s: %s" % (assignment, str(e)[str(e).index("$"):]))
        s.policy = p
        return
    spec = s.spec(key)
    if not spec:
        raise BadInput("--set %s: unknown parameter '%s' of workload '%s'"
                       % (assignment, key, s.workload))
    if not text:
        raise BadInput("--set %s: empty value" % assignment)
    if "," in text:
        values = []
        for i, tok in enumerate(text.split(",")):
            try:
                v = parse_value(spec, tok)
            except ValueError as e:
                raise BadInput("--set %s: value %d: %s" % (assignment, i + 1, e))
            if v in values:
                raise BadInput('--set %s: duplicate sweep value "%s"' % (assignment, tok))
            values.append(v)
        for i, a in enumerate(s.axes):
            if a[0] == key:
                s.axes[i] = (key, values)
                return
        s.axes.append((key, values))
        return
    try:
        v = parse_value(spec, text)
    except ValueError as e:
        raise BadInput("--set %s: %s" % (assignment, e))
    s.axes = [a for a in s.axes if a[0] != key]
    s.fixed[key] = v


def effective_json(s):
    """bench_scenario_to_json: the effective scenario, keys in lore's order."""
    params = {}
    for spec in s.specs():
        if not s.axis(spec.name):
            params[spec.name] = s.fixed[spec.name]
    doc = {
        "params": params,
        "sweep": {name: list(values) for name, values in s.axes},
        "measure": {name: s.policy[name] for name, _, _, _ in POLICY_FIELDS},
        "schema": SCENARIO_SCHEMA,
        "name": s.name,
        "description": s.description,
        "workload": s.workload,
    }
    if s.counters is not None:
        doc["counters"] = list(s.counters)
    return doc


def cjson_unformatted(v):
    """cJSON_PrintUnformatted's text of a value, so the scenario hash matches lore's."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        d = float(v)
        if not math.isfinite(d):
            return "null"
        vi = 2147483647 if d >= 2147483647 else -2147483648 if d <= -2147483648 else int(d)
        if d == float(vi):
            return "%d" % vi
        text = "%1.15g" % d
        if abs(float(text) - d) > max(abs(float(text)), abs(d)) * sys.float_info.epsilon:
            text = "%1.17g" % d
        return text
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(cjson_unformatted(x) for x in v) + "]"
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + cjson_unformatted(x)
                          for k, x in v.items()) + "}"


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# ---- the sweep (mirrors harness/sweep.c) -------------------------------------------------


class Point:
    def __init__(self, index, pid, values):
        self.index, self.id, self.values = index, pid, values


def expand(s):
    total = 1
    for _, values in s.axes:
        total *= len(values)
        if total > SWEEP_MAX_POINTS:
            raise BadInput("%s: $.sweep: expands to more than %d points"
                           % (s.path, SWEEP_MAX_POINTS))
    points = []
    digits = [0] * len(s.axes)
    for idx in range(total):
        values = {}
        for spec in s.specs():
            a = [i for i, ax in enumerate(s.axes) if ax[0] == spec.name]
            values[spec.name] = s.axes[a[0]][1][digits[a[0]]] if a else s.fixed[spec.name]
        if not s.axes:
            pid = "default"
        else:
            pid = ",".join("%s=%s" % (name, format_value(s.spec(name), vals[digits[a]]))
                           for a, (name, vals) in enumerate(s.axes))
        points.append(Point(idx, pid, values))
        for a in range(len(s.axes) - 1, -1, -1):  # odometer: the last axis turns fastest
            digits[a] += 1
            if digits[a] < len(s.axes[a][1]):
                break
            digits[a] = 0
    return points


def apply_filters(s, points, filters):
    if not filters:
        return points
    parsed = []
    for text in filters:
        key, eq, value = text.partition("=")
        if not eq or not key:
            raise BadInput("--filter %s: expected KEY=VALUE" % text)
        if key == "id":
            parsed.append((key, lambda p, v=value: p.id == v))
        elif key == "index":
            try:
                v = parse_value(Spec("index", INT, None, 0, 1e9), value)
            except ValueError as e:
                raise BadInput("--filter %s: %s" % (text, e))
            parsed.append((key, lambda p, v=v: p.index == v))
        else:
            spec = s.spec(key)
            if not spec:
                raise BadInput("--filter %s: unknown key '%s' (a parameter of '%s', id or index)"
                               % (text, key, s.workload))
            try:
                v = parse_value(spec, value)
            except ValueError as e:
                raise BadInput("--filter %s: %s" % (text, e))
            parsed.append((key, lambda p, k=key, v=v: p.values[k] == v))
    keys = []
    for k, _ in parsed:
        if k not in keys:
            keys.append(k)
    # Filters on one key are alternatives; different keys must all match.
    kept = [p for p in points
            if all(any(f(p) for k2, f in parsed if k2 == k) for k in keys)]
    if not kept:
        raise BadInput("no point of the sweep matches" + "".join(" --filter " + f
                                                                 for f in filters))
    return kept


# ---- host facts -------------------------------------------------------------------------


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def rss_read():
    """(VmRSS, VmHWM) in bytes from /proc/self/status, as harness/measure/rss.c reads them."""
    text = read_text("/proc/self/status") or ""
    out = {}
    for key in ("VmRSS", "VmHWM"):
        m = re.search(r"^%s:\s*(\d+)\s*kB" % key, text, re.M)
        out[key] = int(m.group(1)) * 1024 if m else None
    if out["VmHWM"] is None:  # no procfs: getrusage's peak (KiB on Linux)
        out["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out["VmRSS"], out["VmHWM"]


def rss_reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_facts():
    text = read_text("/proc/cpuinfo") or ""
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    fl = set(flags.group(1).split()) if flags else set()
    cpu = {"model": model.group(1).strip() if model else "unknown"}
    if flags:
        cpu["flags"] = {"avx2": "avx2" in fl, "fma": "fma" in fl, "avx512f": "avx512f" in fl,
                        "avx512_bf16": "avx512_bf16" in fl, "amx": "amx_tile" in fl}
    try:
        cpu["cores"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpu["cores"] = os.cpu_count()
    return cpu, fl


GENERIC_CORES = {c.lower() for c in (
    "unknown", "generic", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
    "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona",
    "Nano", "Bobcat", "Sandybridge", "Bulldozer", "Piledriver", "Steamroller")}


class OpenBLAS:
    """The OpenBLAS instance torch's GEMMs run in (the one libopenblas.so.0 already loaded)."""

    def __init__(self):
        self.lib = None
        for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
                self.lib = lib
                break
            except (OSError, AttributeError):
                continue

    def loaded_by_torch(self):
        maps = read_text("/proc/self/maps") or ""
        return "openblas" in maps

    def core(self):
        return self.lib.openblas_get_corename().decode() if self.lib else "unknown"

    def config(self):
        return self.lib.openblas_get_config().decode() if self.lib else "unknown"

    def threads(self):
        return self.lib.openblas_get_num_threads() if self.lib else None

    def set_threads(self, n):
        if self.lib:
            self.lib.openblas_set_num_threads(n)


def git_facts():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        if commit.returncode != 0:
            return {"commit": "unknown"}
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        out = {"commit": commit.stdout.strip()}
        if dirty.returncode == 0:
            out["dirty"] = bool(dirty.stdout.strip())
        return out
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown"}


def clock_facts():
    reads = 20000
    per = []
    for _ in range(9):
        t0 = time.perf_counter_ns()
        for _ in range(reads):
            time.perf_counter_ns()
        per.append((time.perf_counter_ns() - t0) / reads)
    per.sort()
    src = (read_text("/sys/devices/system/clocksource/clocksource0/current_clocksource")
           or "unknown").strip() or "unknown"
    info = time.get_clock_info("perf_counter")
    return {"source": src, "api": "time.perf_counter_ns (%s)" % info.implementation,
            "cost_ns": per[len(per) // 2], "resolution_ns": info.resolution * 1e9}


def host_json(torch, blas, env_set):
    cpu, _ = cpu_facts()
    mem = re.search(r"^MemTotal:\s*(\d+)\s*kB", read_text("/proc/meminfo") or "", re.M)
    u = platform.uname()
    core = blas.core()
    generic = core.lower() in GENERIC_CORES and bool(cpu.get("flags", {}).get("avx2"))
    host = {"cpu": cpu}
    if mem:
        host["memory_bytes"] = int(mem.group(1)) * 1024
    host["kernel"] = "%s %s %s" % (u.system, u.release, u.machine)
    host["build"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_config": torch.__config__.show().strip(),
        "numpy": sys.modules["numpy"].__version__,
    }
    host["git"] = git_facts()
    host["clock"] = clock_facts()
    host["blas"] = {
        "library": "OpenBLAS" if blas.lib else "unknown",
        "config": blas.config(),
        "core": core,
        "threads": blas.threads(),
        "threads_note": "OpenBLAS's own default at load; each point sets it (labels.threads)",
        "coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        "generic_on_simd_cpu": generic,
        "warning": ("OpenBLAS runs its generic '%s' kernels on a CPU with AVX2/AVX-512: PyTorch's "
                    "GEMMs are several times slower than they can be; re-run with --blas-core "
                    "SkylakeX (or Haswell)" % core) if generic else None,
    }
    host["torch"] = {
        "version": torch.__version__,
        "parallel_backend": "OpenMP" if "OpenMP" in torch.__config__.parallel_info() else
        "unknown",
        "cpu_capability": CPU_CAPABILITY[0],
        "environment": env_set,
    }
    host["calibration"] = None
    return host


# ---- the models -------------------------------------------------------------------------


def build_model(torch, tier, impl, seed):
    """A BERT encoder of the tier's shapes with random weights (normal, std 0.02; biases 0;
    LayerNorm 1 and 0, as BERT initialises)."""
    nn = torch.nn
    F = torch.nn.functional
    _, kind, n_layers, h, n_heads, ffn, vocab, positions, types, n_labels, pooling = TIERS[tier]
    d_head = h // n_heads

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(vocab, h)
            self.position = nn.Embedding(positions, h)
            self.token_type = nn.Embedding(types, h)
            self.norm = nn.LayerNorm(h, eps=LN_EPS)

        def forward(self, ids, type_ids):
            pos = torch.arange(ids.shape[1], device=ids.device)
            x = self.word(ids) + self.position(pos)[None] + self.token_type(type_ids)
            return self.norm(x)

    class BertLayer(nn.Module):
        """Hugging Face BertLayer's arithmetic: separate Q, K, V projections, additive mask."""

        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
            self.out = nn.Linear(h, h)
            self.norm1 = nn.LayerNorm(h, eps=LN_EPS)
            self.ffn_in, self.ffn_out = nn.Linear(h, ffn), nn.Linear(ffn, h)
            self.norm2 = nn.LayerNorm(h, eps=LN_EPS)

        def forward(self, x, additive_mask):
            b, n, _ = x.shape

            def heads(t):
                return t.view(b, n, n_heads, d_head).transpose(1, 2)

            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d_head)
            if additive_mask is not None:
                scores = scores + additive_mask
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
            ctx = ctx.transpose(1, 2).reshape(b, n, h)
            x = self.norm1(x + self.out(ctx))
            return self.norm2(x + self.ffn_out(F.gelu(self.ffn_in(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            if impl == "fastpath":
                # torch.nn's own post-LN encoder layer is BERT's layer (MHA with bias, erf
                # GELU FFN). In inference mode it takes the fused "fast path"
                # (torch._transformer_encoder_layer_fwd) and turns a padded batch into a
                # nested tensor, so the projections skip padding.
                layer = nn.TransformerEncoderLayer(h, n_heads, ffn, dropout=0.0,
                                                   activation="gelu", layer_norm_eps=LN_EPS,
                                                   batch_first=True, norm_first=False)
                self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=True)
            else:
                self.layers = nn.ModuleList([BertLayer() for _ in range(n_layers)])
            if kind == "nli":
                self.pooler = nn.Linear(h, h)
                self.classifier = nn.Linear(h, n_labels)

        def forward(self, ids, type_ids, mask, padded):
            x = self.embeddings(ids, type_ids)
            if impl == "fastpath":
                x = self.encoder(x, src_key_padding_mask=~mask if padded else None)
                # A nested batch comes back padded to its longest input only.
                mask = mask[:, :x.shape[1]]
            else:
                additive = None
                if padded:
                    additive = (~mask)[:, None, None, :].to(x.dtype) * torch.finfo(x.dtype).min
                for layer in self.layers:
                    x = layer(x, additive)
            if kind == "nli":
                pooled = torch.tanh(self.pooler(x[:, 0]))
                return torch.softmax(self.classifier(pooled), dim=-1)
            if pooling == "cls":
                e = x[:, 0]
            else:
                m = mask[:, :, None].to(x.dtype)
                e = (x * m).sum(dim=1) / m.sum(dim=1)
            return F.normalize(e, p=2.0, dim=1)

    torch.manual_seed(seed)
    model = Encoder()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                mod.weight.normal_(0.0, 0.02)
                if getattr(mod, "bias", None) is not None:
                    mod.bias.zero_()
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
            elif isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_weight.normal_(0.0, 0.02)
                mod.in_proj_bias.zero_()
                mod.out_proj.weight.normal_(0.0, 0.02)
                mod.out_proj.bias.zero_()
    return model.eval()


class PointState:
    """One point's model and inputs; run_op() is one measured operation."""

    def __init__(self, torch, np, workload, v, impl):
        self.torch = torch
        self.batch_size = v["batch_size"]
        self.tier = v["tier"]
        self.padding = v["padding"]
        self.precision = v["precision"]
        seq_len = v["seq_len"]
        if v["model_dir"]:
            raise RuntimeError("%s: the PyTorch peer runs synthetic weights only (model_dir "
                               "is set)" % workload)
        vocab = TIERS[self.tier][6]
        rng = np.random.default_rng(v["seed"])
        ids = np.full((N_BASE, seq_len), PAD_ID, dtype=np.int64)
        types = np.zeros((N_BASE, seq_len), dtype=np.int64)
        lens = np.empty(N_BASE, dtype=np.int64)
        if workload == "embed":
            lo, hi = v["seq_len_min"], seq_len
            if lo == 0:
                lo = hi
            if lo > hi:
                raise RuntimeError("embed: seq_len_min %d is above seq_len %d" % (lo, hi))
            lens[:] = rng.integers(lo, hi + 1, size=N_BASE)
            for i in range(N_BASE):
                n = int(lens[i])
                ids[i, 0], ids[i, n - 1] = CLS_ID, SEP_ID
                ids[i, 1:n - 1] = rng.integers(FIRST_WORD_ID, vocab, size=n - 2)
        else:
            words = seq_len - 3
            a_words = (2 * words + 2) // 3
            lens[:] = seq_len
            for i in range(N_BASE):
                ids[i, 1:seq_len] = rng.integers(FIRST_WORD_ID, vocab, size=seq_len - 1)
                ids[i, 0] = CLS_ID
                ids[i, a_words + 1] = SEP_ID
                ids[i, seq_len - 1] = SEP_ID
                types[i, a_words + 2:seq_len] = 1
        self.ids = torch.from_numpy(ids)
        self.types = torch.from_numpy(types)
        self.lens = torch.from_numpy(lens)
        self.lens_np = lens
        self.seq_len = seq_len
        self.positions = torch.arange(seq_len)
        # torch 1.13's layer fast path fails under autocast ("expected scalar type BFloat16
        # but found Float"), so bf16 runs the plain modules.
        self.impl = "bert" if self.precision == "bf16" else impl
        self.model = build_model(torch, self.tier, self.impl, v["seed"])
        self.next = 0
        self.n_ops = 0
        self.tokens = 0
        self.rows = 0
        self.flops = 0.0
        self.flops_by_len = {}

    def run_op(self):
        torch = self.torch
        b = self.batch_size
        idx = [(self.next + i) % N_BASE for i in range(b)]
        self.next = (self.next + b) % N_BASE
        lens = self.lens_np[idx]
        width = self.seq_len if self.padding == "max" else int(lens.max())
        sel = torch.tensor(idx)
        ids = self.ids.index_select(0, sel)[:, :width]
        types = self.types.index_select(0, sel)[:, :width]
        lens_t = self.lens.index_select(0, sel)
        mask = self.positions[None, :width] < lens_t[:, None]
        padded = bool(int(lens.min()) < width)
        if self.precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = self.model(ids, types, mask, padded)
        else:
            out = self.model(ids, types, mask, padded)
        # Work accounting for the metrics, outside the model but inside the operation (it
        # is a few dict lookups); lore counts its own inside its forward pass.
        self.n_ops += 1
        self.tokens += int(lens.sum())
        self.rows += b * width
        for n in lens.tolist():
            f = self.flops_by_len.get(n)
            if f is None:
                f = self.flops_by_len[n] = tier_flops(self.tier, n)
            self.flops += f
        return out


# ---- measurement (mirrors harness/runner.c) ---------------------------------------------

STOP = {"requested": False}


def on_signal(sig, frame):
    if STOP["requested"]:
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return
    STOP["requested"] = True


def warm_up(op, policy):
    t0 = time.perf_counter_ns()
    min_ns = int(policy["warmup_s"] * 1e9)
    n = 0
    while True:
        now = time.perf_counter_ns()
        if n >= policy["warmup_ops"] and now - t0 >= min_ns:
            break
        if STOP["requested"]:
            break
        op()
        n += 1
    return n, time.perf_counter_ns() - t0


def measure_window(op, policy, samples):
    min_ns = int(policy["min_time_s"] * 1e9)
    max_ns = int(policy["max_time_s"] * 1e9)
    min_n, cap = policy["min_samples"], policy["max_samples"]
    clock = time.perf_counter_ns
    n = 0
    reason = "minimums_met"
    t_start = clock()
    t_prev = t_start
    while True:
        op()
        t = clock()
        samples.append(t - t_prev)
        t_prev = t
        n += 1
        elapsed = t - t_start
        if STOP["requested"]:
            reason = "interrupted"
            break
        if n >= min_n and elapsed >= min_ns:
            break
        if elapsed >= max_ns:
            reason = "max_time"
            break
        if n >= cap:
            reason = "max_samples"
            break
    return {"n_samples": n, "wall_ns": t_prev - t_start, "stop_reason": reason}


def summarize(np, samples):
    """bench_stats_summarize: type-7 percentiles, sample stddev, Tukey fences."""
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    q = np.percentile(x, [50, 90, 95, 99, 99.9, 25, 75])  # linear == type 7
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    iqr = q[6] - q[5]
    lo, hi = float(q[5] - 1.5 * iqr), float(q[6] + 1.5 * iqr)
    lat = {"min": float(x.min()), "p50": float(q[0]), "p90": float(q[1]), "p95": float(q[2]),
           "p99": float(q[3]), "p999": float(q[4]), "max": float(x.max()), "mean": mean,
           "stddev": std, "cv": std / mean if mean != 0 else 0.0}
    outl = {"method": "tukey-1.5iqr", "low_fence_ns": lo, "high_fence_ns": hi,
            "n_low": int((x < lo).sum()), "n_high": int((x > hi).sum()),
            "indices": [int(i) for i in np.nonzero((x < lo) | (x > hi))[0]]}
    return lat, outl


def metric(value, unit, better):
    return {"value": value, "unit": unit, "better": better}


def resolve_threads(expr, t):
    return t if expr == "T" else int(expr)


def run_point(torch, np, blas, s, pt, opts, item_unit):
    v = pt.values
    p = {"index": pt.index, "id": pt.id, "params": dict(v)}
    policy = s.policy
    t_point = time.perf_counter_ns()
    rss_before, _ = rss_read()
    peak_reset = rss_reset_peak()
    t = v["threads"]
    d_intra, d_blas = DEFAULT_THREADS[v["precision"]]
    intra = resolve_threads(opts.intra_op_threads or d_intra, t)
    nblas = resolve_threads(opts.blas_threads or d_blas, t)
    torch.set_num_threads(intra)
    blas.set_threads(nblas)
    state = None
    try:
        state = PointState(torch, np, s.workload, v, opts.impl)
        samples = []
        reps = []
        with torch.inference_mode():
            n_warm, warm_ns = warm_up(state.run_op, policy)
            for _ in range(policy["repetitions"]):
                if STOP["requested"]:
                    return None
                rep = measure_window(state.run_op, policy, samples)
                reps.append(rep)
                if rep["stop_reason"] == "interrupted":
                    return None
    except Exception as e:  # a failed point is kept with its error; the run goes on
        p["status"] = "error"
        p["error"] = "%s: %s" % (type(e).__name__, e)
        p["point_ns"] = time.perf_counter_ns() - t_point
        return p
    rss_after, rss_peak = rss_read()
    n = len(samples)
    wall_ns = sum(r["wall_ns"] for r in reps)
    items_per_op = float(state.batch_size)
    ops_per_s = n / (wall_ns * 1e-9) if wall_ns > 0 else 0.0
    for r in reps:
        r["items_per_s"] = (items_per_op * r["n_samples"] / (r["wall_ns"] * 1e-9)
                            if r["wall_ns"] > 0 else 0.0)
    lat, outl = summarize(np, samples)
    # Like lore's: work counted over every operation since setup (warm-up included) gives
    # the per-operation average; times the measured operation rate gives the rates.
    per_op = ops_per_s / state.n_ops
    metrics = {
        "tokens_per_s": metric(state.tokens * per_op, "tokens/s", "higher"),
        "gflop_per_s": metric(state.flops * per_op / 1e9, "GFLOP/s", "higher"),
        "padded_token_ratio": metric(state.rows / state.tokens, "rows per real token",
                                     "lower"),
        "synthetic_weights": metric(1, "bool", "none"),
    }
    _, kind, layers, h, heads, ffn, _, _, _, _, pooling = TIERS[state.tier]
    labels = {
        "peer": "pytorch",
        "peer_version": "pytorch %s" % torch.__version__,
        "tokenization": "not included (pre-tokenized ids)",
        "weights": "synthetic (random normal weights, std 0.02, of the tier's shapes; not a "
                   "trained model)",
        "model_shapes_of": TIERS[state.tier][0],
        "model": "%d layers x %d hidden, %d heads, FFN %d, %s pooling%s" % (
            layers, h, heads, ffn, pooling,
            ", pooler + 3-way classifier + softmax" if kind == "nli" else " + L2 normalise"),
        "impl": IMPL_TEXT[state.impl] + ("" if state.impl == opts.impl else
                                         " (--impl %s does not run under autocast in torch "
                                         "1.13)" % opts.impl),
        "threads": "torch intra-op (OpenMP) %d thread(s) x OpenBLAS %d thread(s)%s" % (
            torch.get_num_threads(), blas.threads() if blas.lib else -1,
            "; OMP_WAIT_POLICY=%s" % os.environ["OMP_WAIT_POLICY"]
            if "OMP_WAIT_POLICY" in os.environ else ""),
        "cpu_capability": "PyTorch kernels %s%s" % (
            CPU_CAPABILITY[0], " (ATEN_CPU_CAPABILITY=%s)" % os.environ["ATEN_CPU_CAPABILITY"]
            if "ATEN_CPU_CAPABILITY" in os.environ else ""),
        "blas_core": "%s (OPENBLAS_CORETYPE %s)" % (
            blas.core(), "=" + os.environ["OPENBLAS_CORETYPE"]
            if "OPENBLAS_CORETYPE" in os.environ else "unset"),
        "padding": "each batch padded to its longest input with an attention mask"
                   if state.padding != "max" else "every input padded to seq_len (padding=max)",
        "precision": "fp32" if state.precision == "f32" else
                     "torch.autocast(cpu, bfloat16) (oneDNN bf16 GEMMs)",
        "inputs": "lengths drawn like lore's (same distribution, not the same sequence)",
    }
    if v["worker_mode"] == "workers":
        labels["worker_mode"] = ("not applicable: PyTorch runs one forward pass per batch on "
                                 "the threads above")
    if s.workload == "embed" and (v["cache"] or v["dup_ratio"] > 0):
        labels["cache"] = ("none: PyTorch has no embedding cache or in-call dedupe; every "
                           "text is encoded")
    p["status"] = "ok"
    p["item_unit"] = item_unit
    p["items_per_op"] = items_per_op
    p["n_samples"] = n
    p["min_samples_met"] = all(r["n_samples"] >= policy["min_samples"] for r in reps)
    p["warmup"] = {"ops": n_warm, "ns": warm_ns}
    p["wall_ns"] = wall_ns
    p["point_ns"] = time.perf_counter_ns() - t_point
    p["throughput"] = {"items_per_s": ops_per_s * items_per_op, "ops_per_s": ops_per_s}
    p["latency_ns"] = lat
    p["outliers"] = outl
    p["rss"] = {"before_bytes": rss_before, "after_bytes": rss_after, "peak_bytes": rss_peak,
                "peak_is_per_point": peak_reset}
    # PAPI is not read from Python: say so for each counter the scenario asked for.
    p["counters"] = {c: {"available": False, "value": None,
                         "reason": "not measured by the PyTorch peer (no PAPI in Python)"}
                     for c in (s.counters or [])}
    p["metrics"] = metrics
    p["labels"] = labels
    p["repetitions"] = reps
    p["samples_ns"] = samples
    del state
    return p


CPU_CAPABILITY = ["unknown"]  # what torch reports it runs, read once torch is loaded

IMPL_TEXT = {
    "fastpath": "torch.nn.TransformerEncoder (post-LN BERT layers; inference fast path, "
                "nested tensors for padded batches)",
    "bert": "torch.nn modules with Hugging Face BertLayer arithmetic (separate Q/K/V Linear, "
            "matmul attention with additive mask)",
}


# ---- output -------------------------------------------------------------------------------


def finite(o):
    """Non-finite numbers become null, as lore writes them."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: finite(x) for k, x in o.items()}
    if isinstance(o, list):
        return [finite(x) for x in o]
    return o


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def csv_field(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "%.17g" % v
    v = str(v)
    if any(c in v for c in ',"\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def result_csv(doc):
    """bench_results_csv: one row per point; parameter, metric, counter columns from the first
    good point."""
    fixed = [("n_samples", None), ("throughput", "items_per_s"), ("throughput", "ops_per_s"),
             ("latency_ns", "min"), ("latency_ns", "p50"), ("latency_ns", "p90"),
             ("latency_ns", "p95"), ("latency_ns", "p99"), ("latency_ns", "p999"),
             ("latency_ns", "max"), ("latency_ns", "mean"), ("latency_ns", "stddev"),
             ("latency_ns", "cv"), ("outliers", "n_low"), ("outliers", "n_high"),
             ("rss", "before_bytes"), ("rss", "after_bytes"), ("rss", "peak_bytes")]
    points = doc["points"]
    first = next((p for p in points if p.get("status") == "ok"), points[0] if points else {})
    params = list(first.get("params", {}))
    metrics = list(first.get("metrics", {}))
    counters = list(first.get("counters", {}))
    head = ["index", "id"] + params + ["status"] + [
        a if b is None else "%s_%s" % (a, b) for a, b in fixed] + metrics + counters
    lines = [",".join(head)]
    for p in points:
        row = [csv_field(p.get("index")), csv_field(p.get("id"))]
        row += [csv_field(p.get("params", {}).get(k)) for k in params]
        row.append(csv_field(p.get("status")))
        for a, b in fixed:
            x = p.get(a)
            row.append(csv_field(x.get(b) if isinstance(x, dict) and b else
                                 None if b else x))
        row += [csv_field(p.get("metrics", {}).get(k, {}).get("value")) for k in metrics]
        row += [csv_field(p.get("counters", {}).get(k, {}).get("value")) for k in counters]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def iso_ms(unix_ms):
    t = datetime.datetime.fromtimestamp(unix_ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (unix_ms % 1000)


def format_ns(ns):
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.1f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


# ---- main -------------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="torch_encoder.py",
        description="PyTorch peer of lore-bench's embed and nli workloads: measures a "
                    "scenario's points with a PyTorch BERT encoder and writes result.json "
                    "(schema lore-bench/1).")
    ap.add_argument("scenario", help="scenario file (schema lore-scenario/1, workload embed "
                                     "or nli)")
    ap.add_argument("-o", "--output", help="folder for result.json and result.csv (default "
                                           "results/<run-id>)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter (a,b,c sets a sweep) or measure.FIELD")
    ap.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="run only matching points (a parameter, id or index)")
    ap.add_argument("--dry-run", action="store_true", help="list the points and exit")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--impl", choices=sorted(IMPL_TEXT), default=DEFAULT_IMPL,
                    help="encoder implementation (default %(default)s)")
    ap.add_argument("--intra-op-threads", metavar="N|T",
                    help="torch.set_num_threads per point: a number, or T for the point's "
                         "threads (default: 1 for f32, T for bf16)")
    ap.add_argument("--blas-threads", metavar="N|T",
                    help="OpenBLAS threads per point: a number, or T for the point's threads "
                         "(default: T for f32, 1 for bf16)")
    ap.add_argument("--omp-wait-policy", choices=["passive", "active"],
                    help="set OMP_WAIT_POLICY for PyTorch's OpenMP pool (default: leave the "
                         "environment as it is)")
    ap.add_argument("--blas-core", metavar="NAME",
                    help="set OPENBLAS_CORETYPE (e.g. SkylakeX, Haswell) before OpenBLAS "
                         "loads; default: the environment's, else OpenBLAS's own choice")
    ap.add_argument("--aten-cpu-capability", choices=["auto", "torch", "avx2", "avx512"],
                    default="auto",
                    help="PyTorch's element-wise kernel ISA (ATEN_CPU_CAPABILITY). auto "
                         "(default): the caller's ATEN_CPU_CAPABILITY if set, else avx512 on "
                         "an AVX-512 CPU (torch 1.13 picks AVX2 there by itself); torch: "
                         "torch's own choice")
    o = ap.parse_args(argv)
    for name in ("intra_op_threads", "blas_threads"):
        val = getattr(o, name)
        if val is not None and val != "T" and not (val.isdigit() and 1 <= int(val) <= 64):
            ap.error("--%s: expected T or a number 1-64 (got %r)" % (name.replace("_", "-"), val))
    if o.blas_core is not None and not re.match(r"[A-Za-z0-9_]{1,32}\Z", o.blas_core):
        ap.error("--blas-core %r: expected an OpenBLAS core name (e.g. SkylakeX)" % o.blas_core)
    return o


def main(argv):
    try:
        opts = parse_args(argv[1:])
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    try:
        s = load_scenario(opts.scenario)
        for a in opts.set:
            apply_set(s, a)
        points = expand(s)
        n_total = len(points)
        points = apply_filters(s, points, opts.filter)
    except BadInput as e:
        print("torch_encoder: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    if opts.dry_run:
        print("%d of %d points:" % (len(points), n_total))
        for p in points:
            print("  index=%d  id=%s" % (p.index, p.id))
        return EXIT_OK

    now = datetime.datetime.now(datetime.timezone.utc)
    run_id = "%s-%s-pytorch-%04x" % (now.strftime("%Y%m%dT%H%M%SZ"), s.name,
                                    (time.perf_counter_ns() ^ os.getpid()) & 0xFFFF)
    out_dir = opts.output or os.path.join("results", run_id)
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_atomic(os.path.join(out_dir, ".write-probe"), "")
        os.unlink(os.path.join(out_dir, ".write-probe"))
    except OSError as e:
        print("torch_encoder: output folder %s: %s" % (out_dir, e.strerror), file=sys.stderr)
        return EXIT_USAGE

    # Everything read when the libraries load must be in the environment before the first
    # import of numpy (Debian's links OpenBLAS too) or torch.
    env_set = {}
    if opts.blas_core:
        os.environ["OPENBLAS_CORETYPE"] = env_set["OPENBLAS_CORETYPE"] = opts.blas_core
    if opts.omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = env_set["OMP_WAIT_POLICY"] = opts.omp_wait_policy.upper()
    cap = opts.aten_cpu_capability
    if cap == "auto" and "ATEN_CPU_CAPABILITY" not in os.environ:
        # torch 1.13 runs its AVX2 kernels on AVX-512 CPUs unless told; its AVX-512 ones
        # measured faster here (LayerNorm, GELU, softmax; see README).
        _, flags = cpu_facts()
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            cap = "avx512"
    if cap == "torch":
        os.environ.pop("ATEN_CPU_CAPABILITY", None)
    elif cap in ("avx2", "avx512"):
        os.environ["ATEN_CPU_CAPABILITY"] = env_set["ATEN_CPU_CAPABILITY"] = cap
    for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "ATEN_CPU_CAPABILITY", "GOMP_SPINCOUNT"):
        if k in os.environ and k not in env_set:
            env_set[k] = os.environ[k] + " (from the caller's environment)"
    try:
        import numpy as np
        import torch
        import warnings

        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
    except ImportError as e:
        print("torch_encoder: %s (install with scripts/install-deps.sh --peers)" % e,
              file=sys.stderr)
        return EXIT_RUNTIME
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    CPU_CAPABILITY[0] = m.group(1) if m else "unknown"
    blas = OpenBLAS()
    if not blas.lib or not blas.loaded_by_torch():
        print("torch_encoder: warning: cannot reach the OpenBLAS that PyTorch uses; its thread "
              "count is left as it is", file=sys.stderr)
    if opts.blas_core and blas.core().lower() != opts.blas_core.lower():
        print("torch_encoder: --blas-core: asked OpenBLAS for %s, it runs %s"
              % (opts.blas_core, blas.core()), file=sys.stderr)
    host = host_json(torch, blas, env_set)
    if host["blas"]["generic_on_simd_cpu"]:
        print("\ntorch_encoder: WARNING: %s\n" % host["blas"]["warning"], file=sys.stderr)
    if not opts.quiet:
        print("torch_encoder: %s (%s), %d point(s); pytorch %s, impl %s; OpenBLAS core %s; "
              "PyTorch kernels %s; threads: intra-op %s, OpenBLAS %s (T = the point's threads)"
              % (s.name, s.workload, len(points), torch.__version__, opts.impl, blas.core(),
                 CPU_CAPABILITY[0], opts.intra_op_threads or "1 (bf16: T)",
                 opts.blas_threads or "T (bf16: 1)"), file=sys.stderr)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    eff = effective_json(s)
    canon = cjson_unformatted(eff)
    started_ms = int(time.time() * 1000)
    item_unit = WORKLOADS[s.workload]["item_unit"]
    results = []
    n_failed = 0
    interrupted = False
    t0 = time.perf_counter()
    for i, pt in enumerate(points):
        r = run_point(torch, np, blas, s, pt, opts, item_unit)
        gc.collect()  # the last point's model goes before the next one's peak RSS is reset
        if r is None:
            interrupted = True
            break
        results.append(r)
        if r["status"] != "ok":
            n_failed += 1
        if not opts.quiet:
            elapsed = time.perf_counter() - t0
            if r["status"] != "ok":
                print("[%d/%d] %s  FAILED: %s" % (i + 1, len(points), pt.id, r["error"]),
                      file=sys.stderr)
            else:
                line = "[%d/%d] %-32s %.4g %s/s  p50 %s  cv %.1f%%  n=%d  %.1fs" % (
                    i + 1, len(points), pt.id, r["throughput"]["items_per_s"], item_unit,
                    format_ns(r["latency_ns"]["p50"]), r["latency_ns"]["cv"] * 100,
                    r["n_samples"], r["point_ns"] * 1e-9)
                if i + 1 < len(points):
                    line += "  ETA %.0fs" % (elapsed / (i + 1) * (len(points) - i - 1))
                if not r["min_samples_met"]:
                    line += "  (below min_samples: max_time_s reached)"
                print(line, file=sys.stderr)
        if STOP["requested"]:
            interrupted = True
            break
    finished_ms = int(time.time() * 1000)
    doc = {
        "schema": RESULT_SCHEMA,
        "run_id": run_id,
        "complete": not interrupted,
        "started_at": iso_ms(started_ms),
        "finished_at": iso_ms(finished_ms),
        "duration_s": (finished_ms - started_ms) / 1000.0,
        "command": list(argv),
        "tool": "pytorch %s" % torch.__version__,
        "peer": "pytorch",
        "scenario": {
            "file": s.path,
            "name": s.name,
            "workload": s.workload,
            "hash": "fnv1a64:%016x" % fnv1a64(canon.encode("utf-8")),
            "effective": eff,
            "n_points_grid": n_total,
            "n_points_selected": len(points),
        },
        "host": host,
        "points": results,
        "summary": {"n_points_run": len(results), "n_points_failed": n_failed,
                    "n_points_skipped": len(points) - len(results)},
    }
    doc = finite(doc)
    try:
        write_atomic(os.path.join(out_dir, "result.json"), json.dumps(doc, indent=1) + "\n")
        write_atomic(os.path.join(out_dir, "result.csv"), result_csv(doc))
    except OSError as e:
        print("torch_encoder: cannot write the result in %s: %s" % (out_dir, e.strerror),
              file=sys.stderr)
        return EXIT_RUNTIME
    if interrupted:
        print("torch_encoder: interrupted: %d of %d points written to %s/result.json (marked "
              "incomplete)" % (len(results), len(points), out_dir), file=sys.stderr)
        return EXIT_INTERRUPTED
    if n_failed:
        print("torch_encoder: %d of %d points failed; result in %s/result.json"
              % (n_failed, len(points), out_dir), file=sys.stderr)
        return EXIT_RUNTIME
    print("%s/result.json" % out_dir)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv))
