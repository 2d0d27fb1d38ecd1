"""search_common.py - what the peers of lore-bench's `search` workload share.

The faiss_index.py and hnswlib_index.py adapters are thin backends (build an index, search
it, say what it is); this module mirrors harness/workloads/search.c around them:

- the workload's parameter table, in the C table's order (the scenario hash depends on it);
- the data: synthetic vectors reproduced bit for bit from harness/vecdata.c's generator
  (make_vectors.py), or the first n vectors of a .fvecs/.npy file; queries from the query
  stream, a queries file, or held out from the data file (vectors n..n+n_queries-1);
- exact ground truth as vecdata.c computes it (float BLAS scores, the best 2k + 8 kept, a
  double re-rank, ties to the lower id), cached on disk in lore's file format under
  results/.cache/groundtruth-peers/ (the key hashes the data with SHA-256: lore's own key
  hashes it with byte-wise FNV-1a, which Python cannot afford for 100k x 384 floats);
- recall@k exactly as bench_vecdata_recall counts it;
- the single-entry build cache: a sweep over search-time parameters (probes, ef_search, k,
  n_queries, query_mode) reuses the last index, keyed by the parameters it was built from,
  and reports the build's train and add times with a "reused from point N" build label;
- the point: threads set, index built (train and add timed apart), queries, ground truth,
  a recall pass that runs every query exactly as the measured operations will, stats reset,
  then lore's measurement (peerlib.measure) of one query per operation (query_mode single,
  cycling through the queries) or all queries in one call (batch).

A backend provides: name, title, tool (version text), kinds, load() (imports the library,
returns a host block), set_threads(t), build(v, corpus) -> (handle, train_s, add_s),
index_bytes(handle) -> (bytes, how), searcher(handle, v, queries, k, batch, threads) ->
(op, run_all), stats_reset(), stats_metrics(handle, v, n_searched) -> {name: metric},
call_overhead_ns(dim, threads), labels(handle, v, threads) -> {name: text}.
"""

import gc
import hashlib
import os
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep scripts/peers free of __pycache__

import make_vectors  # noqa: E402
import peerlib  # noqa: E402
from peerlib import (BOOL, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, FLOAT, INT, STRING,  # noqa: E402
                     BadInput, OpenBLAS, Spec, failed_point, finish_point, metric, rss_read,
                     rss_reset_peak)

# ---- the workload's parameter table (mirrors harness/workloads/search.c) ---------------

KINDS = ["flat", "ivf", "hnsw"]
SEARCH_PARAMS = [
    Spec("kind", STRING, "flat", choices=KINDS),
    Spec("n", INT, "10000", 1, 1e8, unit="vectors"),
    Spec("dim", INT, "384", 1, 65536),
    Spec("metric", STRING, "ip", choices=["ip", "l2"]),
    Spec("n_queries", INT, "1000", 1, 1e6, unit="queries"),
    Spec("k", INT, "10", 1, 1000, unit="neighbours"),
    Spec("lists", INT, "100", 1, 1 << 24, unit="lists"),
    Spec("probes", INT, "1", 1, 1 << 24, unit="lists"),
    Spec("kmeans_iters", INT, "20", 1, 10000),
    Spec("train_per_list", INT, "256", 1, 1000000, unit="vectors"),
    Spec("M", INT, "16", 2, 1024, unit="links"),
    Spec("ef_construction", INT, "200", 1, 1 << 20),
    Spec("ef_search", INT, "0", 0, 1 << 20),
    Spec("flat_gemm_min_queries", INT, "16", 1, 1 << 30, unit="queries"),
    Spec("query_mode", STRING, "single", choices=["single", "batch"]),
    # lore runs one search thread for now (range 1..1); the adapters apply `threads` to
    # their library as given, so raising the bound here (with lore's) is all it takes.
    Spec("threads", INT, "1", 1, 1, unit="threads"),
    Spec("data", STRING, "synthetic"),
    Spec("queries", STRING, ""),
    Spec("clusters", INT, "100", 1, 1e6),
    Spec("spread", FLOAT, "2", 0, 100),
    Spec("normalize", BOOL, "true"),
    Spec("seed", INT, "1", 0, 1e15),
]
WORKLOADS = {"search": {"item_unit": "query", "params": SEARCH_PARAMS}}

METRIC_IDS = {"ip": 0, "l2": 1}  # lore_metric values, as written in the cache files
GT_CACHE_DIR = os.path.join("results", ".cache", "groundtruth-peers")
GT_MAGIC, GT_VERSION, GT_HEADER = b"lore-gt\0", 1, 48
GT_CACHE_MAX_IDS = 2 * 1024 * 1024  # larger results are not cached (the checksum is Python)
GT_QUERY_BLOCK = 128


def ef_of(v):
    """ef_search in effect: the parameter, or lore's default max(k, 16) when it is 0."""
    return v["ef_search"] if v["ef_search"] else max(v["k"], 16)


def check_point(v, kinds, backend_title):
    """What lore would refuse too (no clamping), and what this backend cannot run."""
    if v["kind"] not in kinds:
        raise RuntimeError("%s has no %s index: kind=%s points run with %s" % (
            backend_title, v["kind"], v["kind"],
            "faiss_index.py" if v["kind"] in ("flat", "ivf") else "another adapter"))
    if v["kind"] == "ivf":
        if v["probes"] > v["lists"]:
            raise RuntimeError("probes %d > lists %d (lore fails this point too; no clamping)"
                               % (v["probes"], v["lists"]))
        if v["n"] < v["lists"]:
            raise RuntimeError("ivf needs n >= lists (got n %d, lists %d)" % (v["n"], v["lists"]))
    if v["kind"] == "hnsw" and v["ef_search"] and v["ef_search"] < v["k"]:
        raise RuntimeError("ef_search %d < k %d (lore fails this point too; the libraries would "
                           "silently search with max(ef, k))" % (v["ef_search"], v["k"]))


# ---- data ---------------------------------------------------------------------------------


def synth_args(v):
    return (v["dim"], v["clusters"], v["spread"], v["normalize"], v["seed"])


def load_rows(np, path, first, n, dim, what):
    """Rows [first, first + n) of a vector file, checked like bench_vecdata_read."""
    try:
        x = make_vectors.load(np, path, first, n)
    except (ValueError, OSError) as e:
        raise RuntimeError("search: %s: %s" % (what, e))
    if x.shape[1] != dim:
        raise RuntimeError("search: %s: %s: dimension mismatch: the file's vectors have %d, "
                           "expected %d" % (what, path, x.shape[1], dim))
    return x


def load_corpus(np, v):
    if v["data"] == "synthetic":
        x = make_vectors.generate(np, v["n"], *synth_args(v), stream=make_vectors.STREAM_CORPUS)
        label = ("synthetic: Gaussian mixture, %d clusters, spread %g, %s, seed %d (lore-bench's "
                 "generator reproduced bit for bit by make_vectors.py)" % (
                     v["clusters"], v["spread"],
                     "L2-normalised" if v["normalize"] else "not normalised", v["seed"]))
        return x, label
    return (load_rows(np, v["data"], 0, v["n"], v["dim"], "data"),
            "file %s: its first %d vectors" % (v["data"], v["n"]))


def load_queries(np, v):
    nq = v["n_queries"]
    if v["queries"]:
        return (load_rows(np, v["queries"], 0, nq, v["dim"], "queries"),
                "file %s: its first %d vectors" % (v["queries"], nq))
    if v["data"] == "synthetic":
        q = make_vectors.generate(np, nq, *synth_args(v), stream=make_vectors.STREAM_QUERIES)
        return q, "synthetic: %d from the query stream (same mixture, not in the corpus)" % nq
    return (load_rows(np, v["data"], v["n"], nq, v["dim"], "queries"),
            "held out from %s: vectors %d..%d (not in the corpus)" % (v["data"], v["n"],
                                                                    v["n"] + nq - 1))


DATA_HASH_MAX_BYTES = 4 << 20  # byte-wise FNV-1a in Python: ~0.4 s per MiB


def lore_data_hash(np, x):
    """bench_vecdata_hash (FNV-1a 64 of n, dim as u64 and the float bytes) for corpora small
    enough to hash in Python, else None: equal to lore's data_hash label on the same data."""
    if x.nbytes > DATA_HASH_MAX_BYTES:
        return None
    body = struct.pack("<QQ", x.shape[0], x.shape[1]) + np.ascontiguousarray(x).tobytes()
    return "fnv1a64:%016x" % peerlib.fnv1a64(body)


def sha256_of(np, x):
    h = hashlib.sha256()
    h.update(struct.pack("<QQ", x.shape[0], x.shape[1]))
    h.update(memoryview(np.ascontiguousarray(x)).cast("B"))
    return h.hexdigest()


# ---- ground truth -------------------------------------------------------------------------


def exact_topk(np, data, queries, k, metric_name):
    """bench_vecdata_gt_compute: ids (nq, k), best first, ties to the lower id, -1 past n."""
    n, nq = data.shape[0], queries.shape[0]
    n_cand = min(2 * k + 8, n)
    l2 = metric_name == "l2"
    norms = (np.einsum("ij,ij->i", data.astype(np.float64), data.astype(np.float64))
             .astype(np.float32) if l2 else None)
    out = np.full((nq, k), -1, dtype=np.int64)
    for q0 in range(0, nq, GT_QUERY_BLOCK):
        q = queries[q0:q0 + GT_QUERY_BLOCK]
        s = q @ data.T  # float32 GEMM on the BLAS, like lore's blocks
        if l2:
            s = 2 * s - norms[None, :]  # |q|^2 is the same for every row
        if n_cand < n:
            cand = np.argpartition(-s, n_cand - 1, axis=1)[:, :n_cand]
        else:
            cand = np.broadcast_to(np.arange(n), (len(q), n))
        # The re-rank in double, in sub-blocks of about 32 MiB of gathered rows.
        exact = np.empty(cand.shape)
        sub = max(1, (32 << 20) // (8 * cand.shape[1] * data.shape[1]))
        for i0 in range(0, len(q), sub):
            x = data[cand[i0:i0 + sub]].astype(np.float64)  # (sub, n_cand, dim)
            q64 = q[i0:i0 + sub].astype(np.float64)[:, None, :]
            exact[i0:i0 + sub] = (x * q64).sum(2) if not l2 else -((q64 - x) ** 2).sum(2)
        for i in range(len(q)):
            order = np.lexsort((cand[i], -exact[i]))[:k]  # best score, then the lower id
            out[q0 + i, :len(order)] = cand[i][order]
    return out


def fnv1a64(data):
    return peerlib.fnv1a64(data)


def gt_key(data_sha, n, queries_sha, nq, dim, k, metric_name):
    h = hashlib.sha256(("lore-peer-gt/1 %s %d %s %d %d %d %d" % (
        data_sha, n, queries_sha, nq, dim, k, METRIC_IDS[metric_name])).encode())
    return int.from_bytes(h.digest()[:8], "little")


def gt_path(key):
    return os.path.join(GT_CACHE_DIR, "%016x.bin" % key)


def gt_load(np, key, n, nq, dim, k, metric_name):
    """The cached ids, or None (and a warning on stderr for a file that fails a check)."""
    path = gt_path(key)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        print("search peer: warning: ground-truth cache %s: %s; recomputing it"
              % (path, e.strerror), file=sys.stderr)
        return None
    want = GT_HEADER + nq * k * 8 + 8
    why = None
    if len(buf) != want:
        why = "%s: expected %d bytes" % ("too long" if len(buf) > want else "truncated", want)
    elif buf[:8] != GT_MAGIC:
        why = "bad magic (not a ground-truth cache file)"
    elif struct.unpack_from("<I", buf, 8)[0] != GT_VERSION:
        why = "version %d, this reads %d" % (struct.unpack_from("<I", buf, 8)[0], GT_VERSION)
    elif struct.unpack_from("<Q", buf, want - 8)[0] != fnv1a64(buf[:want - 8]):
        why = "checksum mismatch"
    elif struct.unpack_from("<IQQQII", buf, 12) != (k, nq, n, key, METRIC_IDS[metric_name], dim):
        why = "its header describes another computation"
    if why is None:
        ids = np.frombuffer(buf, dtype="<i8", count=nq * k, offset=GT_HEADER).reshape(nq, k)
        if ((ids < -1) | (ids >= n)).any():
            why = "an id is out of range"
        else:
            return ids.astype(np.int64)
    print("search peer: warning: ground-truth cache %s: %s; recomputing it" % (path, why),
          file=sys.stderr)
    return None


def gt_store(np, key, n, nq, dim, k, metric_name, ids):
    body = (GT_MAGIC + struct.pack("<IIQQQII", GT_VERSION, k, nq, n, key, METRIC_IDS[metric_name],
                                   dim) + np.ascontiguousarray(ids, dtype="<i8").tobytes())
    os.makedirs(GT_CACHE_DIR, exist_ok=True)
    path = gt_path(key)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(body + struct.pack("<Q", fnv1a64(body)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def recall_at_k(np, found, truth):
    """bench_vecdata_recall: per query, the share of the true ids (>= 0) among the first k
    found (duplicates and -1 count once and never); queries with no true id do not count."""
    total, counted = 0.0, 0
    for q0 in range(0, len(truth), 256):
        t = truth[q0:q0 + 256]
        f = found[q0:q0 + 256]
        valid = t >= 0
        hit = (t[:, :, None] == f[:, None, :]).any(2) & valid
        n_true = valid.sum(1)
        ok = n_true > 0
        total += float((hit.sum(1)[ok] / n_true[ok]).sum())
        counted += int(ok.sum())
    return total / counted if counted else 1.0


# ---- the build cache and the point ----------------------------------------------------------


def build_key(v):
    """search.c's build_key: every parameter the built index depends on, and no other."""
    key = "kind=%s n=%d dim=%d metric=%s seed=%d data=%s" % (
        v["kind"], v["n"], v["dim"], v["metric"], v["seed"], v["data"])
    if v["data"] == "synthetic":
        key += " clusters=%d spread=%.17g norm=%d" % (v["clusters"], v["spread"],
                                                     int(v["normalize"]))
    if v["kind"] == "ivf":
        key += " lists=%d iters=%d train_per_list=%d" % (v["lists"], v["kmeans_iters"],
                                                         v["train_per_list"])
    elif v["kind"] == "hnsw":
        key += " M=%d efc=%d" % (v["M"], v["ef_construction"])
    else:
        key += " gemm_min=%d" % v["flat_gemm_min_queries"]
    return key


class Build:
    def __init__(self):
        self.key = None
        self.handle = None
        self.corpus = None
        self.corpus_sha = None
        self.data_label = None
        self.train_s = self.add_s = 0.0
        self.built_at = 0
        self.index_bytes = None
        self.index_bytes_how = None
        self.data_hash = None


class SearchRunner:
    """Runs the points of a search scenario on one backend (a process-wide build cache, an
    in-memory ground-truth memo, the count of setups for "reused from point N")."""

    def __init__(self, np, backend, blas):
        self.np = np
        self.backend = backend
        self.blas = blas
        self.build = None
        self.setups = 0
        self.gt_memo = {}
        self.overhead = {}
        self.corpus_memo = None  # (data key, corpus, label, sha256, lore data_hash)

    def get_build(self, v):
        key = build_key(v)
        if self.build is not None and self.build.key == key:
            return self.build, False
        self.build = None  # free the old index before building the next
        gc.collect()
        b = Build()
        b.key = key
        b.built_at = self.setups - 1
        # The corpus outlives its index when the next build uses the same data (a sweep over
        # lists or M): 100k synthetic vectors take ~13 s to make in Python.
        dkey = (v["data"], v["n"], v["dim"]) + (synth_args(v) if v["data"] == "synthetic" else ())
        if self.corpus_memo is not None and self.corpus_memo[0] == dkey:
            _, b.corpus, b.data_label, b.corpus_sha, b.data_hash = self.corpus_memo
        else:
            self.corpus_memo = None
            b.corpus, b.data_label = load_corpus(self.np, v)
            b.corpus_sha = sha256_of(self.np, b.corpus)
            b.data_hash = lore_data_hash(self.np, b.corpus)
            self.corpus_memo = (dkey, b.corpus, b.data_label, b.corpus_sha, b.data_hash)
        b.handle, b.train_s, b.add_s = self.backend.build(v, b.corpus)
        b.index_bytes, b.index_bytes_how = self.backend.index_bytes(b.handle)
        self.build = b
        return b, True

    def ground_truth(self, b, v, queries, queries_sha):
        np = self.np
        k, metric_name = v["k"], v["metric"]
        n, nq, dim = b.corpus.shape[0], queries.shape[0], b.corpus.shape[1]
        key = gt_key(b.corpus_sha, n, queries_sha, nq, dim, k, metric_name)
        if key in self.gt_memo:
            return self.gt_memo[key]
        what = "exact (BLAS brute force, double re-rank, as lore-bench computes it)"
        ids = gt_load(np, key, n, nq, dim, k, metric_name) if nq * k <= GT_CACHE_MAX_IDS else None
        if ids is not None:
            label = "%s, read from the cache %s" % (what, gt_path(key))
        else:
            # Not timed: every core for the brute force, then back to the point's threads.
            self.blas.set_threads(os.cpu_count() or 1)
            try:
                ids = exact_topk(np, b.corpus, queries, k, metric_name)
            finally:
                self.blas.set_threads(v["threads"])
            label = "%s, computed here" % what
            if nq * k <= GT_CACHE_MAX_IDS:
                try:
                    label += ", cached as %s" % gt_store(np, key, n, nq, dim, k, metric_name, ids)
                except OSError as e:
                    print("search peer: warning: ground truth not cached: %s" % e,
                          file=sys.stderr)
                    label += ", not cached"
            else:
                label += ", not cached (too large for the Python checksum)"
        self.gt_memo[key] = (ids, label)
        return ids, label

    def run_point(self, s, pt):
        np = self.np
        be = self.backend
        v = pt.values
        p = {"index": pt.index, "id": pt.id, "params": dict(v)}
        t_point = time.perf_counter_ns()
        rss_before, _ = rss_read()
        peak_reset = rss_reset_peak()
        self.setups += 1
        try:
            check_point(v, be.kinds, be.title)
            t = v["threads"]
            be.set_threads(t)
            self.blas.set_threads(t)
            b, built_here = self.get_build(v)
            queries, queries_label = load_queries(np, v)
            truth, gt_label = self.ground_truth(b, v, queries, sha256_of(np, queries))
            k, batch = v["k"], v["query_mode"] == "batch"
            op, run_all = be.searcher(b.handle, v, queries, k, batch, t)
            found = run_all()  # the recall pass, exactly as the measured operations search
            recall = recall_at_k(np, found, truth)
            okey = (v["dim"], t)
            if okey not in self.overhead:
                self.overhead[okey] = be.call_overhead_ns(v["dim"], t)
            overhead_ns = self.overhead[okey]
            be.stats_reset()
            counter = {"ops": 0}
            per_op = queries.shape[0] if batch else 1

            def counted_op():
                op()
                counter["ops"] += 1

            measured = peerlib.measure(counted_op, s.policy)
            if measured is None:
                return None
        except Exception as e:  # a failed point is kept with its error; the run goes on
            return failed_point(p, e, t_point)

        def metrics(ops_per_s):
            n_vec = b.corpus.shape[0]
            m = {
                "qps": metric(ops_per_s * per_op, "queries/s", "higher"),
                "recall_at_k": metric(recall, "ratio", "higher"),
                "train_s": metric(b.train_s, "s", "lower"),
                "add_s": metric(b.add_s, "s", "lower"),
                "build_s": metric(b.train_s + b.add_s, "s", "lower"),
            }
            if b.index_bytes is not None:
                m["index_bytes"] = metric(float(b.index_bytes), "bytes", "lower")
                m["index_bytes_per_vector"] = metric(b.index_bytes / n_vec, "bytes", "lower")
            m.update(be.stats_metrics(b.handle, v, counter["ops"] * per_op))
            m["call_overhead_ns"] = metric(overhead_ns, "ns", "none")
            return m

        labels = {"peer": be.name, "peer_version": be.tool}
        labels.update(be.labels(b.handle, v, v["threads"]))
        labels.update({
            "data": b.data_label,
            "data_hash": b.data_hash or "not computed (over %d MiB: byte-wise FNV-1a is too "
                                        "slow in Python; see data_sha256)"
                                        % (DATA_HASH_MAX_BYTES >> 20),
            "data_sha256": b.corpus_sha,
            "queries": queries_label,
            "ground_truth": gt_label,
            "build": "built here" if built_here else "reused from point %d" % b.built_at,
            "blas": "%s, core %s, %s thread(s) (searches do not use it%s)" % (
                "OpenBLAS" if self.blas.lib else "unknown BLAS", self.blas.core(),
                self.blas.threads() if self.blas.lib else "?",
                "" if be.name == "hnswlib" else ", except FAISS flat batches and k-means"),
            "index_bytes": b.index_bytes_how,
            "call_overhead_ns": "median time of one search call on a 1-vector index of the "
                                "same dim from Python: the binding's share of every sample "
                                "(lore's harness calls C directly)",
        })
        finish_point(np, p, s, "query", float(per_op), measured, t_point, rss_before,
                     peak_reset, metrics, labels, "the %s peer" % be.title)
        return p


def progress_extra(r):
    m = r.get("metrics", {})
    rec = m.get("recall_at_k", {}).get("value")
    bs = m.get("build_s", {}).get("value")
    return "  recall %.4f  build %.1fs" % (rec, bs) if rec is not None and bs is not None else ""


def main(argv, backend):
    """The whole adapter: arguments, dry run, the points, result.json."""
    prog = backend.prog
    ap = peerlib.arg_parser(
        prog + ".py",
        "%s peer of lore-bench's search workload: measures a scenario's points with %s and "
        "writes result.json (schema lore-bench/1)." % (backend.title, backend.title),
        "scenario file (schema lore-scenario/1, workload search)")
    try:
        opts = ap.parse_args(argv[1:])
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    if opts.params_table:
        peerlib.print_params_table(WORKLOADS)
        return EXIT_OK
    try:
        s, points, n_total = peerlib.prepare(opts, WORKLOADS, "the %s peer" % backend.title)
    except BadInput as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return EXIT_USAGE
    if opts.dry_run:
        peerlib.print_dry_run(points, n_total)
        return EXIT_OK
    run_id, out_dir = peerlib.make_output_dir(opts, s, backend.name, prog)
    if out_dir is None:
        return EXIT_USAGE
    env_set = {}
    for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "GOMP_SPINCOUNT"):
        if k in os.environ:
            env_set[k] = os.environ[k] + " (from the caller's environment)"
    try:
        import numpy as np

        lib_block = backend.load()
    except ImportError as e:
        print("%s: %s (install with scripts/install-deps.sh --peers)" % (prog, e),
              file=sys.stderr)
        return EXIT_RUNTIME
    blas = OpenBLAS()
    build = {"python": peerlib.platform.python_version(), "numpy": np.__version__}
    build.update(lib_block.get("build", {}))
    host = peerlib.host_common(build)
    host["blas"] = peerlib.blas_block(
        blas, backend.title, "OpenBLAS's own default at load; each point sets it to its threads "
                             "(the ground truth's brute force runs on every core, untimed)")
    lib_block = dict(lib_block)
    lib_block.pop("build", None)
    lib_block["environment"] = env_set
    host[backend.name] = lib_block
    host["calibration"] = None
    if not opts.quiet:
        print("%s: %s (%s), %d point(s); %s; OpenBLAS core %s" % (
            prog, s.name, s.workload, len(points), backend.tool, blas.core()), file=sys.stderr)
    runner = SearchRunner(np, backend, blas)
    return peerlib.run_points(s, points, n_total, argv, opts, run_id, out_dir, prog,
                              backend.name, backend.tool, host, "query",
                              lambda pt: runner.run_point(s, pt), progress_extra)
