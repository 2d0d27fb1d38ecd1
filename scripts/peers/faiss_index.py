#!/usr/bin/env python3
"""faiss_index.py - the FAISS peer of lore-bench's `search` workload.

    faiss_index.py SCENARIO.json [-o DIR] [--set KEY=VALUE ...] [--filter KEY=VALUE ...]
                   [--dry-run] [-q]

Reads the same scenario files as `lore-bench run` (workload search), expands the sweep
exactly as lore-bench does (same point ids, same scenario hash) and measures every point
with FAISS (Debian python3-faiss 1.7.3):

    kind=flat   IndexFlatIP / IndexFlatL2
    kind=ivf    IndexIVFFlat over an IndexFlat quantizer: k-means with niter = kmeans_iters
                (lore's default 20; FAISS's own is 10), max_points_per_centroid =
                train_per_list (256, as lore), seed = the point's seed; spherical for ip
                (FAISS's default for inner product); nprobe = probes
    kind=hnsw   IndexHNSWFlat(dim, M): efConstruction, efSearch = ef_search (0: lore's
                default max(k, 16)); level generator seeded with the point's seed

Threads: faiss.omp_set_num_threads(threads) and OpenBLAS set to `threads` (FAISS runs
k-means and flat batches of >= 20 queries on BLAS). One query per measured operation in
query_mode single (FAISS's C++ search called through SWIG with preallocated outputs, the
cheapest path Python has: `call_overhead_ns` says what the binding costs per call), all
queries in one call in batch mode. Everything else - data, ground truth, recall, the build
cache, measurement, result.json - is search_common.py and peerlib.py (see README.md).

Exit codes: 0 ok, 2 bad input or usage, 3 a point failed or a runtime failure,
130 interrupted (finished points are written, the result is marked incomplete).
Needs python3, numpy and FAISS (Debian: python3-faiss; scripts/install-deps.sh --peers).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep scripts/peers free of __pycache__

import search_common  # noqa: E402
from peerlib import metric  # noqa: E402


class FaissBackend:
    name = "faiss"
    title = "FAISS"
    prog = "faiss_index"
    kinds = ("flat", "ivf", "hnsw")

    def __init__(self):
        self.faiss = None
        self.np = None
        self.tool = "faiss"

    def load(self):
        import numpy as np
        import faiss

        self.faiss, self.np = faiss, np
        self.opts = faiss.get_compile_options().strip()
        self.tool = "faiss %s" % faiss.__version__
        self.simd = ("AVX2 library (swigfaiss_avx2)" if "AVX2" in self.opts else
                     "generic library, no AVX2 kernels (%s; Debian ships only this one)"
                     % (self.opts or "compile options unknown"))
        return {"build": {"faiss": faiss.__version__},
                "version": faiss.__version__,
                "compile_options": self.opts,
                "module": os.path.dirname(faiss.__file__),
                "omp_max_threads_at_load": faiss.omp_get_max_threads()}

    def set_threads(self, t):
        self.faiss.omp_set_num_threads(t)

    def metric_type(self, v):
        return self.faiss.METRIC_INNER_PRODUCT if v["metric"] == "ip" else self.faiss.METRIC_L2

    def flat(self, v):
        return (self.faiss.IndexFlatIP if v["metric"] == "ip" else self.faiss.IndexFlatL2)(v["dim"])

    def build(self, v, corpus):
        faiss = self.faiss
        d, mt = v["dim"], self.metric_type(v)
        keep = []  # objects the index points to (FAISS keeps references too; belt and braces)
        if v["kind"] == "flat":
            index = self.flat(v)
        elif v["kind"] == "ivf":
            quantizer = self.flat(v)
            keep.append(quantizer)
            index = faiss.IndexIVFFlat(quantizer, d, v["lists"], mt)
            index.cp.niter = v["kmeans_iters"]
            index.cp.max_points_per_centroid = v["train_per_list"]
            index.cp.seed = v["seed"] % (1 << 31)
            index.cp.verbose = False
        else:
            index = faiss.IndexHNSWFlat(d, v["M"], mt)
            index.hnsw.efConstruction = v["ef_construction"]
            index.hnsw.rng = faiss.RandomGenerator(v["seed"])
        t0 = time.perf_counter_ns()
        index.train(corpus)
        train_s = (time.perf_counter_ns() - t0) * 1e-9
        t0 = time.perf_counter_ns()
        index.add(corpus)
        add_s = (time.perf_counter_ns() - t0) * 1e-9
        return (index, keep), train_s, add_s

    def index_bytes(self, handle):
        index, _ = handle
        n = int(self.faiss.serialize_index(index).size)
        return n, ("faiss.serialize_index size: vectors, lists or graph as FAISS stores them "
                   "(lore's index_bytes is what its index holds in memory)")

    def searcher(self, handle, v, queries, k, batch, threads):
        faiss, np = self.faiss, self.np
        index, _ = handle
        if v["kind"] == "ivf":
            index.nprobe = v["probes"]
        elif v["kind"] == "hnsw":
            index.hnsw.efSearch = search_common.ef_of(v)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        nq = q.shape[0]
        search_c = index.search_c  # the C++ Index::search, without the Python wrapper's checks
        # swig_ptr holds no reference: the arrays behind the pointers must outlive the closures.
        if batch:
            dist = np.empty((nq, k), dtype=np.float32)
            ids = np.empty((nq, k), dtype=np.int64)
            qp, dp, ip = faiss.swig_ptr(q), faiss.swig_ptr(dist), faiss.swig_ptr(ids)
            keep = (q, dist, ids)

            def op():
                search_c(nq, qp, k, dp, ip)
                return keep

            def run_all():
                op()
                return ids.copy()

            return op, run_all
        dist = np.empty((1, k), dtype=np.float32)
        ids = np.empty((1, k), dtype=np.int64)
        dp, ip = faiss.swig_ptr(dist), faiss.swig_ptr(ids)
        qptrs = [faiss.swig_ptr(q[i]) for i in range(nq)]
        cursor = [0]
        keep = (q, dist, ids)

        def op():
            i = cursor[0]
            cursor[0] = i + 1 if i + 1 < nq else 0
            search_c(1, qptrs[i], k, dp, ip)
            return keep

        def run_all():
            out = np.empty((nq, k), dtype=np.int64)
            all_d = np.empty((nq, k), dtype=np.float32)
            for i in range(nq):
                search_c(1, qptrs[i], k, faiss.swig_ptr(all_d[i]), faiss.swig_ptr(out[i]))
            return out

        return op, run_all

    def stats_reset(self):
        self.faiss.cvar.indexIVF_stats.reset()
        self.faiss.cvar.hnsw_stats.reset()

    def stats_metrics(self, handle, v, n_searched):
        index, _ = handle
        if n_searched <= 0:
            return {}
        if v["kind"] == "flat":
            return {"distances_per_query": metric(float(index.ntotal), "count", "none")}
        if v["kind"] == "ivf":
            st = self.faiss.cvar.indexIVF_stats
            # lore counts the centroids scanned by the quantizer and the list entries.
            return {"distances_per_query": metric(v["lists"] + st.ndis / n_searched, "count",
                                                  "none"),
                    "lists_probed_per_query": metric(st.nlist / n_searched, "count", "none")}
        # FAISS 1.7.3 counts HNSW distances in n3 (level 0 only; its ndis stays 0 there).
        st = self.faiss.cvar.hnsw_stats
        return {"distances_per_query": metric(st.n3 / n_searched, "count", "none")}

    def call_overhead_ns(self, dim, threads):
        faiss, np = self.faiss, self.np
        ix = faiss.IndexFlat(dim, faiss.METRIC_INNER_PRODUCT)
        x = np.zeros((1, dim), dtype=np.float32)
        ix.add(x)
        d = np.empty((1, 1), dtype=np.float32)
        i = np.empty((1, 1), dtype=np.int64)
        xp, dp, ip = faiss.swig_ptr(x), faiss.swig_ptr(d), faiss.swig_ptr(i)  # x, d, i stay alive
        search_c = ix.search_c
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter_ns()
            search_c(1, xp, 1, dp, ip)
            samples.append(time.perf_counter_ns() - t0)
        samples.sort()
        return float(samples[len(samples) // 2])

    def labels(self, handle, v, threads):
        index, _ = handle
        mname = "IP" if v["metric"] == "ip" else "L2"
        if v["kind"] == "flat":
            desc = "IndexFlat%s (exact scan)" % mname
        elif v["kind"] == "ivf":
            desc = ("IndexIVFFlat(IndexFlat%s quantizer, nlist %d), nprobe %d; k-means niter %d, "
                    "max_points_per_centroid %d, seed %d%s" % (
                        mname, v["lists"], index.nprobe, v["kmeans_iters"], v["train_per_list"],
                        v["seed"] % (1 << 31),
                        ", spherical (FAISS's default for IP)" if v["metric"] == "ip" else ""))
        else:
            desc = ("IndexHNSWFlat(M %d, %s): efConstruction %d, efSearch %d%s" % (
                v["M"], mname, v["ef_construction"], index.hnsw.efSearch,
                "" if v["ef_search"] else " (ef_search 0: lore's default max(k, 16))"))
        out = {
            "index": desc,
            "threads": "OpenMP %d thread(s) (faiss.omp_set_num_threads)" % threads,
            "kernels": "FAISS %s" % self.simd,
            "call": ("one Index::search call per query through SWIG (search_c, preallocated "
                     "outputs)" if v["query_mode"] == "single" else
                     "one Index::search call with all %d queries through SWIG" % v["n_queries"]),
        }
        notes = []
        if v["kind"] == "flat":
            notes.append("flat_gemm_min_queries not applied: FAISS switches to BLAS at its own "
                         "distance_compute_blas_threshold (%d queries per call)"
                         % self.faiss.cvar.distance_compute_blas_threshold)
        if v["kind"] == "ivf":
            notes.append("k-means: FAISS's (its sampling, init and spherical step), not lore's")
        if v["kind"] == "hnsw":
            notes.append("graph: FAISS's HNSW (its neighbour selection and level draw); "
                         "distances_per_query counts level 0 only (hnsw_stats.n3)")
        if notes:
            out["not_comparable"] = "; ".join(notes)
        return out


def main(argv):
    return search_common.main(argv, FaissBackend())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
