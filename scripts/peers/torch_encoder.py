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

import math
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep scripts/peers free of __pycache__

import peerlib  # noqa: E402
from peerlib import (BOOL, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, FLOAT, INT, STRING, BadInput,
                     OpenBLAS, Spec, cpu_facts, failed_point, finish_point, metric,
                     rss_read, rss_reset_peak)

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

THREAD_MODES = ["blas", "workers"]
PADDINGS = ["none", "batch", "max"]
PRECISIONS = ["f32", "bf16"]


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


# ---- host facts -------------------------------------------------------------------------


def host_json(torch, blas, env_set):
    host = peerlib.host_common({
        "python": peerlib.platform.python_version(),
        "torch": torch.__version__,
        "torch_config": torch.__config__.show().strip(),
        "numpy": sys.modules["numpy"].__version__,
    })
    host["blas"] = peerlib.blas_block(
        blas, "PyTorch", "OpenBLAS's own default at load; each point sets it (labels.threads)")
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



# ---- one point ----------------------------------------------------------------------------


def resolve_threads(expr, t):
    return t if expr == "T" else int(expr)


def run_point(torch, np, blas, s, pt, opts, item_unit):
    v = pt.values
    p = {"index": pt.index, "id": pt.id, "params": dict(v)}
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
        with torch.inference_mode():
            measured = peerlib.measure(state.run_op, s.policy)
        if measured is None:
            return None
    except Exception as e:  # a failed point is kept with its error; the run goes on
        return failed_point(p, e, t_point)

    def metrics(ops_per_s):
        # Like lore's: work counted over every operation since setup (warm-up included)
        # gives the per-operation average; times the measured operation rate gives the rates.
        per_op = ops_per_s / state.n_ops
        return {
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
    finish_point(np, p, s, item_unit, float(state.batch_size), measured, t_point, rss_before,
                 peak_reset, metrics, labels, "the PyTorch peer")
    return p


CPU_CAPABILITY = ["unknown"]  # what torch reports it runs, read once torch is loaded

IMPL_TEXT = {
    "fastpath": "torch.nn.TransformerEncoder (post-LN BERT layers; inference fast path, "
                "nested tensors for padded batches)",
    "bert": "torch.nn modules with Hugging Face BertLayer arithmetic (separate Q/K/V Linear, "
            "matmul attention with additive mask)",
}


# ---- main -------------------------------------------------------------------------------


def parse_args(argv):
    ap = peerlib.arg_parser(
        "torch_encoder.py",
        "PyTorch peer of lore-bench's embed and nli workloads: measures a scenario's points "
        "with a PyTorch BERT encoder and writes result.json (schema lore-bench/1).",
        "scenario file (schema lore-scenario/1, workload embed or nli)")
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
    prog = "torch_encoder"
    try:
        opts = parse_args(argv[1:])
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    if opts.params_table:
        peerlib.print_params_table(WORKLOADS)
        return EXIT_OK
    try:
        s, points, n_total = peerlib.prepare(opts, WORKLOADS, "the PyTorch peer")
    except BadInput as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return EXIT_USAGE
    if opts.dry_run:
        peerlib.print_dry_run(points, n_total)
        return EXIT_OK
    run_id, out_dir = peerlib.make_output_dir(opts, s, "pytorch", prog)
    if out_dir is None:
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

    item_unit = WORKLOADS[s.workload]["item_unit"]
    return peerlib.run_points(
        s, points, n_total, argv, opts, run_id, out_dir, prog, "pytorch",
        "pytorch %s" % torch.__version__, host, item_unit,
        lambda pt: run_point(torch, np, blas, s, pt, opts, item_unit))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
