"""peerlib.py - what every peer adapter shares with lore-bench (and with the other adapters).

A peer adapter runs a lore-bench scenario on someone else's library and writes the same
result.json (schema lore-bench/1). To be read side by side with lore's, it must see the
scenario exactly as lore-bench does; this module mirrors the harness for that:

    scenario files, --set, --filter   harness/scenario.c, harness/workloads/registry.c
    the sweep (point ids, order)      harness/sweep.c (an odometer, the last axis fastest)
    the scenario hash                 cJSON_PrintUnformatted of the effective scenario, FNV-1a 64
    measurement                       harness/runner.c (warm-up, windows, stop reasons)
    statistics                        harness/measure/stats.c (type-7 percentiles, Tukey fences)
    peak RSS                          harness/measure/rss.c (VmHWM, reset per point)
    result.json / result.csv          harness/results.c, written atomically

An adapter supplies its workloads' parameter tables (Spec lists, in the order of the C
tables: the scenario hash depends on it), a host block, and a run_point function; run_main()
does the rest (arguments, dry run, the loop over points, progress lines, signals, output,
exit codes 0 ok / 2 bad input / 3 a point failed / 130 interrupted).

Python 3 standard library only; numpy is imported by the caller and passed where needed.
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
# Every workload lore-bench knows (harness/workloads/registry.c), for its error message.
ALL_WORKLOADS = ["sgemm", "stream", "noop", "embed", "nli", "search"]

# ---- parameter specs and values (mirrors harness/workloads/registry.c) -------------------

INT, FLOAT, STRING, BOOL = "int", "float", "string", "bool"


class Spec:
    def __init__(self, name, type_, default, lo=0.0, hi=0.0, choices=None, unit="", desc=""):
        self.name, self.type, self.default = name, type_, default
        self.min, self.max, self.choices = lo, hi, choices
        self.unit, self.description = unit, desc


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
    def __init__(self, workloads):
        self.workloads = workloads  # the adapter's table: name -> {"item_unit", "params"}
        self.path = self.name = self.description = self.workload = None
        self.fixed = {}  # param name -> value (defaults, then "params", then --set)
        self.axes = []  # [(param name, [values])], in file order; the first varies slowest
        self.policy = dict(POLICY_DEFAULT)
        self.counters = None

    def specs(self):
        return self.workloads[self.workload]["params"]

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


def load_scenario(path, workloads, peer_title):
    """Reads and validates a scenario file for the workloads an adapter runs. peer_title
    names the adapter in messages ("the PyTorch peer")."""
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
    s = Scenario(workloads)
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
    if wl not in workloads:
        if wl in ALL_WORKLOADS:
            names = list(workloads)
            raise BadInput('%s: $.workload: %s runs only the %s workload%s (got "%s")'
                           % (path, peer_title, " and ".join(names),
                              "s" if len(names) > 1 else "", wl))
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


def scenario_hash(s):
    return "fnv1a64:%016x" % fnv1a64(cjson_unformatted(effective_json(s)).encode("utf-8"))


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
    """The OpenBLAS instance a peer's GEMMs run in (the one libopenblas.so.0 already loaded)."""

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
        """Whether an OpenBLAS is mapped into the process (by whichever library loaded it)."""
        maps = read_text("/proc/self/maps") or ""
        return "openblas" in maps

    loaded = loaded_by_torch

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


def host_common(build):
    """The host block's first fields, in lore's order: cpu, memory, kernel, build (what the
    peer runs instead of lore's C build facts), git, clock. The adapter adds blas and its own
    library's block, then "calibration"."""
    cpu, _ = cpu_facts()
    mem = re.search(r"^MemTotal:\s*(\d+)\s*kB", read_text("/proc/meminfo") or "", re.M)
    u = platform.uname()
    host = {"cpu": cpu}
    if mem:
        host["memory_bytes"] = int(mem.group(1)) * 1024
    host["kernel"] = "%s %s %s" % (u.system, u.release, u.machine)
    host["build"] = build
    host["git"] = git_facts()
    host["clock"] = clock_facts()
    return host


def blas_block(blas, peer_title, threads_note):
    """host.blas: which OpenBLAS kernels the peer's GEMMs run, with a warning when OpenBLAS fell
    back to a generic core on a SIMD CPU."""
    cpu, _ = cpu_facts()
    core = blas.core()
    generic = core.lower() in GENERIC_CORES and bool(cpu.get("flags", {}).get("avx2"))
    return {
        "library": "OpenBLAS" if blas.lib else "unknown",
        "config": blas.config(),
        "core": core,
        "threads": blas.threads(),
        "threads_note": threads_note,
        "coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        "generic_on_simd_cpu": generic,
        "warning": ("OpenBLAS runs its generic '%s' kernels on a CPU with AVX2/AVX-512: %s's "
                    "GEMMs are several times slower than they can be; re-run with --blas-core "
                    "SkylakeX (or Haswell)" % (core, peer_title)) if generic else None,
    }


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


def measure(op, policy):
    """Warm-up, then policy["repetitions"] windows. Returns (n_warmup_ops, warmup_ns, samples,
    reps), or None when a signal interrupted it (the point is then dropped, as lore does)."""
    samples = []
    reps = []
    n_warm, warm_ns = warm_up(op, policy)
    for _ in range(policy["repetitions"]):
        if STOP["requested"]:
            return None
        rep = measure_window(op, policy, samples)
        reps.append(rep)
        if rep["stop_reason"] == "interrupted":
            return None
    return n_warm, warm_ns, samples, reps


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


def failed_point(p, e, t_point):
    """A point that raised: kept with its error; the run goes on."""
    p["status"] = "error"
    p["error"] = "%s: %s" % (type(e).__name__, e)
    p["point_ns"] = time.perf_counter_ns() - t_point
    return p


def finish_point(np, p, s, item_unit, items_per_op, measured, t_point, rss_before, peak_reset,
                 metrics_fn, labels, peer_title):
    """Fills a measured point in lore's field order. measured: measure()'s tuple. metrics_fn
    (ops_per_s) returns the workload metrics (called after the rates are known)."""
    n_warm, warm_ns, samples, reps = measured
    policy = s.policy
    rss_after, rss_peak = rss_read()
    n = len(samples)
    wall_ns = sum(r["wall_ns"] for r in reps)
    ops_per_s = n / (wall_ns * 1e-9) if wall_ns > 0 else 0.0
    for r in reps:
        r["items_per_s"] = (items_per_op * r["n_samples"] / (r["wall_ns"] * 1e-9)
                            if r["wall_ns"] > 0 else 0.0)
    lat, outl = summarize(np, samples)
    metrics = metrics_fn(ops_per_s)
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
                         "reason": "not measured by %s (no PAPI in Python)" % peer_title}
                     for c in (s.counters or [])}
    p["metrics"] = metrics
    p["labels"] = labels
    p["repetitions"] = reps
    p["samples_ns"] = samples
    return p


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


# ---- the driver -------------------------------------------------------------------------


def arg_parser(prog, description, scenario_help):
    """The arguments every adapter shares with `lore-bench run`; the adapter adds its own."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("scenario", help=scenario_help)
    ap.add_argument("-o", "--output", help="folder for result.json and result.csv (default "
                                           "results/<run-id>)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter (a,b,c sets a sweep) or measure.FIELD")
    ap.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="run only matching points (a parameter, id or index)")
    ap.add_argument("--dry-run", action="store_true", help="list the points and exit")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    # For side_by_side.py: the parameter tables, to check them against `lore-bench list`.
    ap.add_argument("--params-table", action="store_true", help=argparse.SUPPRESS)
    return ap


def print_params_table(workloads):
    """One line per parameter: workload, name, type, default (in --set syntax)."""
    for wl, w in workloads.items():
        for spec in w["params"]:
            print("%s %s %s %s" % (wl, spec.name, spec.type, spec.default))


def prepare(opts, workloads, peer_title):
    """Scenario, --set, sweep, --filter: (scenario, selected points, grid size). Raises
    BadInput."""
    s = load_scenario(opts.scenario, workloads, peer_title)
    for a in opts.set:
        apply_set(s, a)
    points = expand(s)
    n_total = len(points)
    points = apply_filters(s, points, opts.filter)
    return s, points, n_total


def print_dry_run(points, n_total):
    print("%d of %d points:" % (len(points), n_total))
    for p in points:
        print("  index=%d  id=%s" % (p.index, p.id))


def make_output_dir(opts, s, peer, prog):
    """(run id, output folder), or (None, None) after saying why the folder is unusable."""
    now = datetime.datetime.now(datetime.timezone.utc)
    run_id = "%s-%s-%s-%04x" % (now.strftime("%Y%m%dT%H%M%SZ"), s.name, peer,
                                (time.perf_counter_ns() ^ os.getpid()) & 0xFFFF)
    out_dir = opts.output or os.path.join("results", run_id)
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_atomic(os.path.join(out_dir, ".write-probe"), "")
        os.unlink(os.path.join(out_dir, ".write-probe"))
    except OSError as e:
        print("%s: output folder %s: %s" % (prog, out_dir, e.strerror), file=sys.stderr)
        return None, None
    return run_id, out_dir


def progress_line(i, n, pt, r, item_unit, elapsed, extra=""):
    if r["status"] != "ok":
        return "[%d/%d] %s  FAILED: %s" % (i + 1, n, pt.id, r["error"])
    line = "[%d/%d] %-32s %.4g %s/s  p50 %s  cv %.1f%%  n=%d%s  %.1fs" % (
        i + 1, n, pt.id, r["throughput"]["items_per_s"], item_unit,
        format_ns(r["latency_ns"]["p50"]), r["latency_ns"]["cv"] * 100, r["n_samples"], extra,
        r["point_ns"] * 1e-9)
    if i + 1 < n:
        line += "  ETA %.0fs" % (elapsed / (i + 1) * (n - i - 1))
    if not r["min_samples_met"]:
        line += "  (below min_samples: max_time_s reached)"
    return line


def run_points(s, points, n_total, argv, opts, run_id, out_dir, prog, peer, tool, host,
               item_unit, run_point, progress_extra=None):
    """Measures every point with run_point(pt) (a point dict, or None when interrupted),
    writes DIR/result.json and DIR/result.csv, and returns the exit status."""
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    eff = effective_json(s)
    canon = cjson_unformatted(eff)
    started_ms = int(time.time() * 1000)
    results = []
    n_failed = 0
    interrupted = False
    t0 = time.perf_counter()
    for i, pt in enumerate(points):
        r = run_point(pt)
        gc.collect()  # the last point's state goes before the next one's peak RSS is reset
        if r is None:
            interrupted = True
            break
        results.append(r)
        if r["status"] != "ok":
            n_failed += 1
        if not opts.quiet:
            extra = progress_extra(r) if progress_extra and r["status"] == "ok" else ""
            print(progress_line(i, len(points), pt, r, item_unit, time.perf_counter() - t0,
                                extra), file=sys.stderr)
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
        "tool": tool,
        "peer": peer,
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
        print("%s: cannot write the result in %s: %s" % (prog, out_dir, e.strerror),
              file=sys.stderr)
        return EXIT_RUNTIME
    if interrupted:
        print("%s: interrupted: %d of %d points written to %s/result.json (marked "
              "incomplete)" % (prog, len(results), len(points), out_dir), file=sys.stderr)
        return EXIT_INTERRUPTED
    if n_failed:
        print("%s: %d of %d points failed; result in %s/result.json"
              % (prog, n_failed, len(points), out_dir), file=sys.stderr)
        return EXIT_RUNTIME
    print("%s/result.json" % out_dir)
    return EXIT_OK
