#!/usr/bin/env python3
"""make_vectors.py - lore-bench's synthetic clustered vectors, as .npy (or .fvecs) files.

    make_vectors.py -o DIR [--n N] [--n-queries Q] [--dim D] [--clusters C] [--spread S]
                    [--normalize true|false] [--seed X] [--format npy|fvecs] [--check]

Writes DIR/base.npy (N x D float32) and DIR/queries.npy (Q x D) for side-by-side runs:
give both lore-bench and the peers `--set data=DIR/base.npy --set queries=DIR/queries.npy`,
and every side reads the very same bytes.

The vectors are harness/vecdata.c's Gaussian mixture, reproduced step for step: C
unit-sphere centres, each point a uniformly chosen centre plus N(0, (S / sqrt(D))^2) noise
per coordinate, optionally L2-normalised; the centres from the seed alone, the corpus and
the queries from two independent streams of the same seed. The random stream is
splitmix64 (counter-based, so numpy computes it in blocks), normals come from Marsaglia's
polar method with its spare value, the cluster from the multiply-high of 64 random bits,
and every float operation is done in the C code's order and precision (double, then
rounded to float32; normalisation sums squares left to right). The logarithm is the C
library's (math.log), as in the C code. So the files hold the bytes lore-bench generates
for the same parameters. Checked (November 2026) byte for byte against vecdata.c's
bench_vecdata_generate compiled on its own (100k x 384 among other shapes, odd dimensions,
spread 0, one cluster, both streams), and through lore-bench itself: its data_hash label
equals the peers' on search_smoke. --check compares existing files with this output.

Also a module: generate(n, dim, clusters, spread, normalize, seed, stream) returns the
array; the peer adapters use it for scenarios with data=synthetic.
Needs python3 and numpy.
"""

import argparse
import math
import os
import sys

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
STREAM_CENTRES = 0x63656E7472657300  # "centres": apart from the point streams
STREAM_CORPUS, STREAM_QUERIES = 0, 1

# Defaults of the search workload's synthetic data (harness/workloads/search.c).
DEFAULTS = {"n": 10000, "n_queries": 1000, "dim": 384, "clusters": 100, "spread": 2.0,
            "normalize": True, "seed": 1}


class Stream:
    """One splitmix64 stream of vecdata.c (rng_stream), consumed exactly as the C code does.

    Output t (0-based, after the decorrelating first draw) is mix(S + (t + 2) * GOLDEN),
    S = seed ^ (0xd1b54a32d192ed03 * (stream + 1)); blocks of outputs are computed at once.
    """

    BLOCK = 1 << 20

    def __init__(self, np, seed, stream):
        self.np = np
        self.s0 = (seed ^ ((0xD1B54A32D192ED03 * (stream + 1)) & MASK64)) & MASK64
        self.pos = 0  # next output to consume
        self.base = 0  # output index of raw[0]
        self.raw = np.empty(0, dtype=np.uint64)
        self.u = np.empty(0)  # (raw >> 11) * 2^-52 - 1, the polar method's coordinates
        self.acc = np.empty(0, dtype=bool)  # acc[i]: the pair (u[i], u[i+1]) is accepted
        self.has_spare = False
        self.spare = 0.0

    def _ensure(self, upto):
        """Makes outputs [pos, upto) (and one more, for the last pair) available."""
        np = self.np
        if upto + 1 <= self.base + len(self.raw):
            return
        start = self.pos
        count = max(upto + 1 - start, self.BLOCK)
        with np.errstate(over="ignore"):
            t = np.arange(start + 2, start + 2 + count, dtype=np.uint64)
            z = np.uint64(self.s0) + t * np.uint64(GOLDEN)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        self.base = start
        self.raw = z
        self.u = (z >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0
        s = self.u[:-1] * self.u[:-1] + self.u[1:] * self.u[1:]
        self.acc = (s < 1.0) & (s != 0.0)

    def next_u64(self):
        self._ensure(self.pos + 1)
        v = int(self.raw[self.pos - self.base])
        self.pos += 1
        return v

    def normals(self, m):
        """The next m values of rng_normal(), as float64."""
        np = self.np
        out = np.empty(m)
        j = 0
        if m and self.has_spare:
            out[0] = self.spare
            self.has_spare = False
            j = 1
        need = m - j
        n_pairs = (need + 1) // 2
        if n_pairs == 0:
            return out
        # Candidate pairs start at pos, pos + 2, ...; ~pi/4 of them are accepted.
        span = int(n_pairs * 2 / (math.pi / 4) * 1.15) + 64
        while True:
            self._ensure(self.pos + span)
            lo = self.pos - self.base
            ok = np.flatnonzero(self.acc[lo:lo + span:2])
            if len(ok) >= n_pairs:
                break
            span *= 2
        first = lo + 2 * ok[:n_pairs]  # offsets into the block of each accepted pair's u
        u, v = self.u[first], self.u[first + 1]
        s = u * u + v * v
        logs = np.fromiter(map(math.log, s.tolist()), dtype=np.float64, count=n_pairs)
        f = np.sqrt(-2.0 * logs / s)
        vals = np.empty(2 * n_pairs)
        vals[0::2] = u * f
        vals[1::2] = v * f
        out[j:] = vals[:need]
        if need % 2:
            self.spare = float(vals[-1])
            self.has_spare = True
        self.pos = self.base + int(first[-1]) + 2
        return out


def _normalize_rows(np, x32):
    """normalize_row: ss summed left to right in double, then x * (1 / sqrt(ss)) to float."""
    x = x32.astype(np.float64)
    ss = np.cumsum(x * x, axis=1)[:, -1]
    pos = ss > 0
    inv = np.ones_like(ss)
    inv[pos] = 1.0 / np.sqrt(ss[pos])
    out = (x * inv[:, None]).astype(np.float32)
    out[~pos] = x32[~pos]
    return out


def centres(np, dim, clusters, seed):
    r = Stream(np, seed, STREAM_CENTRES)
    c = r.normals(clusters * dim).astype(np.float32).reshape(clusters, dim)
    return _normalize_rows(np, c)


def generate(np, n, dim, clusters, spread, normalize, seed, stream, labels=False):
    """n points of stream (STREAM_CORPUS or STREAM_QUERIES): an (n, dim) float32 array
    (and each point's cluster when labels is true), the bytes bench_vecdata_generate makes."""
    if dim < 1 or clusters < 1 or not (spread >= 0) or not math.isfinite(spread) or n < 1:
        raise ValueError("synthetic vectors: need n >= 1, dim >= 1, clusters >= 1, spread >= 0 "
                         "(got n %d, dim %d, clusters %d, spread %g)" % (n, dim, clusters, spread))
    cen = centres(np, dim, clusters, seed).astype(np.float64)
    r = Stream(np, seed, stream)
    sigma = spread / math.sqrt(dim)
    out = np.empty((n, dim), dtype=np.float32)
    lab = np.empty(n, dtype=np.uint32)
    chunk = max(1, (1 << 22) // dim)
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        noise = np.empty((r1 - r0, dim))
        for i in range(r0, r1):
            c = (r.next_u64() * clusters) >> 64  # multiply-high: no modulo bias
            lab[i] = c
            noise[i - r0] = r.normals(dim)
        block = (cen[lab[r0:r1]] + sigma * noise).astype(np.float32)
        out[r0:r1] = _normalize_rows(np, block) if normalize else block
    return (out, lab) if labels else out


def save(np, path, x):
    """x as .npy (version 1.0, '<f4', C order) or .fvecs (by the extension), atomically."""
    x = np.ascontiguousarray(x, dtype="<f4")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            if path.endswith(".fvecs"):
                rec = np.empty((x.shape[0], x.shape[1] + 1), dtype="<f4")
                rec[:, 1:] = x
                rec.view("<i4")[:, 0] = x.shape[1]
                rec.tofile(f)
            else:
                np.lib.format.write_array(f, x, version=(1, 0), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_bool(text):
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError("expected true or false (got %r)" % text)
    return text == "true"


def main(argv):
    ap = argparse.ArgumentParser(
        prog="make_vectors.py",
        description="Write lore-bench's synthetic clustered vectors (base and queries) as "
                    ".npy or .fvecs files.")
    ap.add_argument("-o", "--output", required=True, help="folder for base.* and queries.*")
    ap.add_argument("--n", type=int, default=DEFAULTS["n"], help="corpus vectors (%(default)s)")
    ap.add_argument("--n-queries", type=int, default=DEFAULTS["n_queries"],
                    help="query vectors (%(default)s; 0: none)")
    ap.add_argument("--dim", type=int, default=DEFAULTS["dim"], help="%(default)s")
    ap.add_argument("--clusters", type=int, default=DEFAULTS["clusters"], help="%(default)s")
    ap.add_argument("--spread", type=float, default=DEFAULTS["spread"],
                    help="noise norm relative to the unit centres (%(default)s)")
    ap.add_argument("--normalize", type=parse_bool, default=DEFAULTS["normalize"],
                    metavar="true|false", help="L2-normalise every vector (%(default)s)")
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="%(default)s")
    ap.add_argument("--format", choices=["npy", "fvecs"], default="npy")
    ap.add_argument("--check", action="store_true",
                    help="compare existing files in DIR with what would be written; exit 1 "
                         "on a difference")
    o = ap.parse_args(argv[1:])
    if o.n < 1 or o.n_queries < 0 or not 1 <= o.dim <= 65536 or o.clusters < 1 \
            or not (o.spread >= 0) or not 0 <= o.seed < 2**64:
        ap.error("need n >= 1, n-queries >= 0, dim in 1..65536, clusters >= 1, spread >= 0, "
                 "0 <= seed < 2^64")
    import numpy as np

    jobs = [("base", o.n, STREAM_CORPUS)]
    if o.n_queries:
        jobs.append(("queries", o.n_queries, STREAM_QUERIES))
    if not o.check:
        os.makedirs(o.output, exist_ok=True)
    status = 0
    for name, n, stream in jobs:
        path = os.path.join(o.output, "%s.%s" % (name, o.format))
        x = generate(np, n, o.dim, o.clusters, o.spread, o.normalize, o.seed, stream)
        if o.check:
            y = load(np, path)
            same = y.shape == x.shape and y.tobytes() == x.tobytes()
            diff = "" if same or y.shape != x.shape else ", %d of %d floats differ" % (
                int((y != x).sum()), x.size)
            print("%s: %s%s" % (path, "identical" if same else "DIFFERENT", diff))
            status |= 0 if same else 1
        else:
            save(np, path, x)
            print(path)
    return status


def load(np, path, first=0, n=None):
    """Rows [first, first + n) (n None: all from first on) of a .npy or .fvecs file as a
    C-ordered float32 (rows, dim) array, reading only those rows; ValueError naming the file
    for what lore-bench would reject too (bench_vecdata_read)."""
    if path.endswith(".fvecs"):
        try:
            raw = np.memmap(path, dtype="<f4", mode="r")
        except ValueError:  # numpy refuses to map an empty file
            raise ValueError("%s: empty file (an .fvecs file holds records of int32 dim, then "
                             "dim float32)" % path)
        d = int(raw[:1].view("<i4")[0])
        if not 1 <= d <= 65536:
            raise ValueError("%s: first record has dimension %d, outside 1..65536 (not an .fvecs "
                             "file, or corrupt)" % (path, d))
        if raw.size % (d + 1):
            raise ValueError("%s: truncated: not a whole number of dim-%d records" % (path, d))
        rows = raw.reshape(-1, d + 1)
    elif path.endswith(".npy"):
        try:
            rows = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ValueError("%s: %s" % (path, e))
        if rows.dtype != np.dtype("<f4"):
            raise ValueError("%s: dtype '%s' is not supported: need '<f4' (float32, "
                             "little-endian)" % (path, rows.dtype.str))
        if rows.ndim != 2 or rows.shape[0] < 1 or not 1 <= rows.shape[1] <= 65536:
            raise ValueError("%s: need a 2-D (n, dim) array of 1..65536 columns (got shape %s)"
                             % (path, rows.shape))
        if rows.flags.f_contiguous and not rows.flags.c_contiguous:
            raise ValueError("%s: Fortran-ordered array: need C order (np.ascontiguousarray)"
                             % path)
    else:
        raise ValueError("%s: unknown vector file type (expected .fvecs or .npy)" % path)
    total = rows.shape[0]
    if n is None:
        n = total - first
    if n < 1 or first + n > total:
        raise ValueError("%s: holds %d vectors; rows %d..%d were asked for"
                         % (path, total, first, first + max(n, 1) - 1))
    part = rows[first:first + n]
    if path.endswith(".fvecs"):
        dims = part[:, 0].view("<i4")
        if (dims != d).any():
            i = int(np.flatnonzero(dims != d)[0])
            raise ValueError("%s: record %d has dimension %d, the first has %d (not an .fvecs "
                             "file, or corrupt)" % (path, first + i, int(dims[i]), d))
        part = part[:, 1:]
    x = np.array(part, dtype=np.float32, order="C")  # a copy: the map is closed with `rows`
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError("%s: vector %d component %d is not finite"
                         % (path, first + bad[0], bad[1]))
    return x


if __name__ == "__main__":
    sys.exit(main(sys.argv))
