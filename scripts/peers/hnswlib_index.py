#!/usr/bin/env python3
"""hnswlib_index.py - the hnswlib peer of lore-bench's `search` workload (kind=hnsw).

    hnswlib_index.py SCENARIO.json [-o DIR] [--set KEY=VALUE ...] [--filter KEY=VALUE ...]
                     [--dry-run] [-q]

Reads the same scenario files as `lore-bench run` (workload search), expands the sweep
exactly as lore-bench does (same point ids, same scenario hash) and measures the kind=hnsw
points with hnswlib (Debian python3-hnswlib 0.6.2): Index(space 'ip' or 'l2', dim),
init_index(max_elements n, ef_construction, M, random_seed seed), add_items with ids
0..n-1, set_ef(ef_search; 0: lore's default max(k, 16)). hnswlib has no flat or IVF index:
kind=flat and kind=ivf points fail with a message saying so (run them with faiss_index.py).

Threads: set_num_threads(threads) and num_threads=threads on add_items and knn_query (one
thread runs on the calling thread). One query per measured operation in query_mode single
(knn_query on a 1-row view; `call_overhead_ns` says what the binding costs per call), all
queries in one knn_query call in batch mode. Everything else - data, ground truth, recall,
the build cache, measurement, result.json - is search_common.py and peerlib.py.

Exit codes: 0 ok, 2 bad input or usage, 3 a point failed or a runtime failure,
130 interrupted (finished points are written, the result is marked incomplete).
Needs python3, numpy and hnswlib (Debian: python3-hnswlib; scripts/install-deps.sh --peers).
"""

import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep scripts/peers free of __pycache__

import search_common  # noqa: E402


def debian_version(package):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                           text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


class HnswlibBackend:
    name = "hnswlib"
    title = "hnswlib"
    prog = "hnswlib_index"
    kinds = ("hnsw",)

    def __init__(self):
        self.hnswlib = None
        self.np = None
        self.tool = "hnswlib"

    def load(self):
        import numpy as np
        import hnswlib

        self.hnswlib, self.np = hnswlib, np
        try:
            import importlib.metadata

            meta = importlib.metadata.version("hnswlib")
        except Exception:  # noqa: BLE001 - any failure just means "unknown"
            meta = None
        deb = debian_version("python3-hnswlib")
        # Debian's 0.6.2 package carries the metadata version 0.6.1; the package says which.
        version = deb.split("-")[0] if deb else meta or "unknown"
        self.tool = "hnswlib %s" % version
        so = getattr(hnswlib, "__file__", "") or ""
        self.simd = self.simd_note(so)
        return {"build": {"hnswlib": version},
                "version": version,
                "debian_package": deb,
                "module_metadata_version": meta,
                "module": so,
                "simd": self.simd}

    @staticmethod
    def simd_note(so):
        """hnswlib picks its distance kernels at compile time (SSE, AVX, AVX-512 by macros):
        say what the installed module was built for, from the registers its code uses."""
        try:
            r = subprocess.run(["objdump", "-d", "--no-show-raw-insn", so], capture_output=True,
                               text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return "unknown (objdump not available)"
        if r.returncode != 0:
            return "unknown (objdump failed)"
        zmm, ymm = r.stdout.count("%zmm"), r.stdout.count("%ymm")
        if zmm:
            return "built with AVX-512 kernels (%d zmm uses)" % zmm
        if ymm:
            return "built with AVX kernels (%d ymm uses)" % ymm
        return ("built with SSE kernels only (no ymm/zmm register in its code: Debian builds for "
                "the baseline x86-64 ISA)")

    def set_threads(self, t):
        pass  # per index and per call (set_num_threads, num_threads=)

    def build(self, v, corpus):
        np = self.np
        index = self.hnswlib.Index(space=v["metric"], dim=v["dim"])
        n = corpus.shape[0]
        t0 = time.perf_counter_ns()
        index.init_index(max_elements=n, ef_construction=v["ef_construction"], M=v["M"],
                         random_seed=v["seed"] % (1 << 63))
        index.set_num_threads(v["threads"])
        train_s = (time.perf_counter_ns() - t0) * 1e-9  # allocation only: HNSW has no training
        t0 = time.perf_counter_ns()
        index.add_items(corpus, np.arange(n, dtype=np.int64), num_threads=v["threads"])
        add_s = (time.perf_counter_ns() - t0) * 1e-9
        return index, train_s, add_s

    def index_bytes(self, index):
        fd, path = tempfile.mkstemp(prefix="hnswlib-size-", suffix=".bin")
        os.close(fd)
        try:
            index.save_index(path)
            n = os.path.getsize(path)
        finally:
            os.unlink(path)
        return n, ("size of hnswlib's save_index file: level-0 links, vectors and labels, upper "
                   "levels (an estimate of its memory: the label map and visited lists are not "
                   "in it; lore's index_bytes is what its index holds in memory)")

    def searcher(self, index, v, queries, k, batch, threads):
        np = self.np
        index.set_ef(search_common.ef_of(v))
        q = np.ascontiguousarray(queries, dtype=np.float32)
        nq = q.shape[0]
        knn = index.knn_query
        if batch:
            def op():
                knn(q, k=k, num_threads=threads)

            def run_all():
                labels, _ = knn(q, k=k, num_threads=threads)
                return labels.astype(np.int64)

            return op, run_all
        rows = [q[i:i + 1] for i in range(nq)]
        cursor = [0]

        def op():
            i = cursor[0]
            cursor[0] = i + 1 if i + 1 < nq else 0
            knn(rows[i], k=k, num_threads=threads)

        def run_all():
            out = np.empty((nq, k), dtype=np.int64)
            for i in range(nq):
                labels, _ = knn(rows[i], k=k, num_threads=threads)
                out[i] = labels[0]
            return out

        return op, run_all

    def stats_reset(self):
        pass

    def stats_metrics(self, index, v, n_searched):
        return {}  # hnswlib 0.6 counts distances and hops in C++ but does not expose them

    def call_overhead_ns(self, dim, threads):
        np = self.np
        ix = self.hnswlib.Index(space="ip", dim=dim)
        ix.init_index(max_elements=1, ef_construction=1, M=2)
        x = np.zeros((1, dim), dtype=np.float32)
        ix.add_items(x, np.zeros(1, dtype=np.int64), num_threads=1)
        ix.set_ef(1)
        knn = ix.knn_query
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter_ns()
            knn(x, k=1, num_threads=threads)
            samples.append(time.perf_counter_ns() - t0)
        samples.sort()
        return float(samples[len(samples) // 2])

    def labels(self, index, v, threads):
        return {
            "index": "hnswlib Index(space '%s'): M %d, ef_construction %d, ef %d%s, random_seed %d"
                     % (v["metric"], index.M, index.ef_construction, index.ef,
                        "" if v["ef_search"] else " (ef_search 0: lore's default max(k, 16))",
                        v["seed"] % (1 << 63)),
            "threads": "%d thread(s) (set_num_threads, num_threads= on add_items and knn_query)"
                       % threads,
            "kernels": "hnswlib %s" % self.simd,
            "call": ("one knn_query call per query (a 1-row numpy view; the binding allocates "
                     "the result arrays)" if v["query_mode"] == "single" else
                     "one knn_query call with all %d queries" % v["n_queries"]),
            "not_comparable": "graph: hnswlib's HNSW (its neighbour selection and level draw); "
                              "'ip' space scores 1 - ip; no distance or hop counts",
        }


def main(argv):
    return search_common.main(argv, HnswlibBackend())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
