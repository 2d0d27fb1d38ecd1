/*
 * search.c - workload: k-nearest-neighbour search on a lore index (flat, IVF,
 * HNSW). One item is one query, so the throughput is queries/s (QPS).
 *
 * Setup (not timed): make or read the corpus and the queries (vecdata.h),
 * build the index (train and add timed apart on the monotonic clock), get the
 * exact top k (from the ground-truth cache, or computed and cached), then run
 * every query once exactly as the measured operations will and score
 * recall@k. Index stats are reset after that pass, so the per-query work
 * metrics cover the warm-up and measured searches only.
 *
 * Build reuse: a sweep over search-time parameters (probes, ef_search, k,
 * n_queries, query_mode) must not retrain the index at every point, so the
 * last built index stays in a process-wide single-entry cache keyed by every
 * parameter the build depends on. A point that finds it reports the cached
 * build's train and add times and says where they come from in its "build"
 * label. Points are numbered by the order setups ran in this process (from
 * 0), which is the grid index when the run is not filtered.
 *
 * Search parameters are handed to the engine as given: probes above lists or
 * ef_search below k make the point fail with the engine's message (no clamping,
 * so a result never claims a setting that did not run).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "lore/lore.h"
#include "measure/clock.h"
#include "textgen.h"
#include "vecdata.h"
#include "workload.h"

static const char *const kind_choices[] = {"flat", "ivf", "hnsw", NULL};
static const char *const metric_choices[] = {"ip", "l2", NULL};
static const char *const mode_choices[] = {"single", "batch", NULL};

static const bench_param_spec params[] = {
    {"kind", BENCH_PARAM_STRING, "flat", 0, 0, kind_choices, "",
     "index: flat (exact scan), ivf (IVF-Flat, k-means lists), hnsw (graph)"},
    {"n", BENCH_PARAM_INT, "10000", 1, 1e8, NULL, "vectors",
     "corpus size (with a data file: its first n vectors)"},
    {"dim", BENCH_PARAM_INT, "384", 1, 65536, NULL, "",
     "vector dimension (a data or query file must have exactly this)"},
    {"metric", BENCH_PARAM_STRING, "ip", 0, 0, metric_choices, "",
     "ip: inner product (cosine on normalised vectors); l2: squared Euclidean"},
    {"n_queries", BENCH_PARAM_INT, "1000", 1, 1e6, NULL, "queries", "distinct queries"},
    {"k", BENCH_PARAM_INT, "10", 1, 1000, NULL, "neighbours",
     "neighbours per query; recall@k is against the exact top k"},
    {"lists", BENCH_PARAM_INT, "100", 1, 1 << 24, NULL, "lists",
     "ivf: k-means lists (needs n >= lists)"},
    {"probes", BENCH_PARAM_INT, "1", 1, 1 << 24, NULL, "lists",
     "ivf: lists scanned per query; probes > lists is an error (the point fails, no clamping)"},
    {"kmeans_iters", BENCH_PARAM_INT, "20", 1, 10000, NULL, "", "ivf: Lloyd iterations"},
    {"train_per_list", BENCH_PARAM_INT, "256", 1, 1000000, NULL, "vectors",
     "ivf: training sample cap per list"},
    {"M", BENCH_PARAM_INT, "16", 2, 1024, NULL, "links",
     "hnsw: links per node on upper levels (2*M on level 0)"},
    {"ef_construction", BENCH_PARAM_INT, "200", 1, 1 << 20, NULL, "",
     "hnsw: candidate list while building"},
    {"ef_search", BENCH_PARAM_INT, "0", 0, 1 << 20, NULL, "",
     "hnsw: candidate list while searching, >= k (below k the point fails); 0: the engine's "
     "default max(k, 16)"},
    {"flat_gemm_min_queries", BENCH_PARAM_INT, "4", 1, 1 << 30, NULL, "queries",
     "flat: from this many queries in one call on, scores come from one GEMM per block"},
    {"query_mode", BENCH_PARAM_STRING, "single", 0, 0, mode_choices, "",
     "single: one query per operation, cycling through the queries; batch: all queries in "
     "one call per operation"},
    {"threads", BENCH_PARAM_INT, "1", 1, 64, NULL, "threads",
     "search threads: batch mode splits the queries into this many slices searched at once "
     "on one shared index (BLAS 1 thread each); single mode needs 1"},
    {"data", BENCH_PARAM_STRING, "synthetic", 0, 0, NULL, "",
     "synthetic (seeded Gaussian mixture), embed:TIER (synthetic texts embedded by the "
     "embedding engine, e.g. embed:minilm-l3), or a .fvecs/.npy file"},
    {"queries", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "a .fvecs/.npy file (its first n_queries vectors); empty: synthetic queries from the "
     "query stream, or with a data file the n_queries vectors after its first n"},
    {"clusters", BENCH_PARAM_INT, "100", 1, 1e6, NULL, "", "synthetic: mixture components"},
    {"spread", BENCH_PARAM_FLOAT, "2", 0, 100, NULL, "",
     "synthetic: noise norm relative to the unit centres (sigma = spread / sqrt(dim) per "
     "coordinate; 2 gives IVF/HNSW recall close to the FAISS/hnswlib anchors' data)"},
    {"normalize", BENCH_PARAM_BOOL, "true", 0, 0, NULL, "",
     "synthetic: L2-normalise data and queries (files are used as they are)"},
    {"seed", BENCH_PARAM_INT, "1", 0, 1e15, NULL, "",
     "seed of the synthetic data and of the index (k-means, HNSW levels)"},
};

/* The one cached build: an index and what the points that reuse it must report. */
typedef struct build {
    char key[1536];
    lore_index *ix;
    size_t n, dim;
    uint64_t data_hash;
    double train_s, add_s;
    size_t built_at; /* ordinal of the setup that built it */
    char data_label[768];
} build;

static build *g_build;
static size_t g_setups;
static bool g_atexit;

typedef struct state {
    const build *b; /* the cache entry; lives past this point */
    bool built_here;
    lore_metric metric;
    lore_search_params sp;
    int k;
    bool batch;
    int threads; /* batch mode: query slices searched at once */
    bench_vecs queries;
    char queries_label[768];
    int64_t *truth;
    char gt_label[1200];
    double recall;
    float *scores; /* k (single) or n_queries * k (batch) */
    int64_t *ids;
    size_t cursor;
    int blas_threads_before;
    char blas_label[160];
} state;

static void build_free(build *b)
{
    if (!b)
        return;
    lore_index_free(b->ix);
    free(b);
}

static void cache_drop(void)
{
    build_free(g_build);
    g_build = NULL;
}

static bool is_synthetic(const bench_params *p)
{
    return strcmp(bench_params_string(p, "data"), "synthetic") == 0;
}

#define EMBED_PREFIX "embed:"
#define EMBED_BATCH 256
#define EMBED_MIN_TOKENS 8
#define EMBED_MAX_TOKENS 30

/* The tier of data "embed:TIER", or NULL when the data is something else. */
static const char *embed_tier(const bench_params *p)
{
    const char *data = bench_params_string(p, "data");
    return strncmp(data, EMBED_PREFIX, strlen(EMBED_PREFIX)) == 0 ? data + strlen(EMBED_PREFIX)
                                                                  : NULL;
}

/*
 * n vectors made by the embedding engine: synthetic texts of 8 to 30 tokens
 * (chunk-sized sentences) from text stream `stream`, embedded by tier with
 * its synthetic weights on every core (setup is not timed).
 */
static int embed_vectors(const char *tier, uint64_t seed, uint64_t stream, size_t n, size_t dim,
                         bench_vecs *out, bench_err *e)
{
    lore_blas_info info;
    lore_blas_get_info(&info);
    lore_encoder_params ep = lore_embedder_default_params();
    ep.tier = tier;
    ep.seed = seed;
    ep.batch_size = 64;
    ep.max_tokens = EMBED_MAX_TOKENS + 2;
    ep.n_threads = info.n_threads_max;
    ep.thread_mode = LORE_THREADS_WORKERS;
    lore_embedder *emb = NULL;
    bench_textgen *gen = NULL;
    char *texts[EMBED_BATCH] = {0};
    int rc = -1;
    if (lore_embedder_new(&ep, &emb) != LORE_OK) {
        bench_err_set(e, "embed:%s: %s", tier, lore_last_error());
        goto done;
    }
    if ((size_t)lore_embedder_dim(emb) != dim) {
        bench_err_set(e, "embed:%s makes %d-d vectors; set dim=%d", tier, lore_embedder_dim(emb),
                      lore_embedder_dim(emb));
        goto done;
    }
    if (bench_textgen_new(lore_embedder_tokenizer(emb), seed ^ (stream * 0x9e3779b97f4a7c15ULL),
                          &gen, e) != 0)
        goto done;
    if (!(out->x = malloc(n * dim * sizeof *out->x))) {
        bench_err_set(e, "embed:%s: out of memory for %zu vectors", tier, n);
        goto done;
    }
    out->n = n;
    out->dim = dim;
    for (size_t done_n = 0; done_n < n;) {
        size_t batch = n - done_n < EMBED_BATCH ? n - done_n : EMBED_BATCH;
        for (size_t i = 0; i < batch; i++) {
            int tokens = EMBED_MIN_TOKENS +
                         (int)(bench_textgen_rand(gen) % (EMBED_MAX_TOKENS - EMBED_MIN_TOKENS + 1));
            size_t len;
            free(texts[i]);
            if (!(texts[i] = bench_textgen_text(gen, tokens, &len, e)))
                goto done;
        }
        if (lore_embedder_embed_batch(emb, (const char *const *)texts, NULL, batch,
                                      out->x + done_n * dim) != LORE_OK) {
            bench_err_set(e, "embed:%s: %s", tier, lore_last_error());
            goto done;
        }
        done_n += batch;
    }
    rc = 0;
done:
    for (size_t i = 0; i < EMBED_BATCH; i++)
        free(texts[i]);
    bench_textgen_free(gen);
    lore_embedder_free(emb);
    lore_blas_set_threads(1);
    if (rc != 0)
        bench_vecs_free(out);
    return rc;
}

static lore_index_kind kind_of(const char *s)
{
    return strcmp(s, "ivf") == 0    ? LORE_INDEX_IVF
           : strcmp(s, "hnsw") == 0 ? LORE_INDEX_HNSW
                                    : LORE_INDEX_FLAT;
}

/* Every parameter the built index depends on, and no other: only these force a rebuild. */
static void build_key(const bench_params *p, char *buf, size_t size)
{
    const char *kind = bench_params_string(p, "kind");
    int n = snprintf(buf, size, "kind=%s n=%lld dim=%lld metric=%s seed=%lld data=%s", kind,
                     (long long)bench_params_int(p, "n"), (long long)bench_params_int(p, "dim"),
                     bench_params_string(p, "metric"), (long long)bench_params_int(p, "seed"),
                     bench_params_string(p, "data"));
    size_t used = n > 0 && (size_t)n < size ? (size_t)n : size - 1;
    if (is_synthetic(p))
        used += (size_t)snprintf(buf + used, size - used, " clusters=%lld spread=%.17g norm=%d",
                                 (long long)bench_params_int(p, "clusters"),
                                 bench_params_float(p, "spread"),
                                 (int)bench_params_bool(p, "normalize"));
    if (used >= size)
        return;
    switch (kind_of(kind)) {
    case LORE_INDEX_IVF:
        snprintf(buf + used, size - used, " lists=%lld iters=%lld train_per_list=%lld",
                 (long long)bench_params_int(p, "lists"),
                 (long long)bench_params_int(p, "kmeans_iters"),
                 (long long)bench_params_int(p, "train_per_list"));
        break;
    case LORE_INDEX_HNSW:
        snprintf(buf + used, size - used, " M=%lld efc=%lld", (long long)bench_params_int(p, "M"),
                 (long long)bench_params_int(p, "ef_construction"));
        break;
    case LORE_INDEX_FLAT:
        snprintf(buf + used, size - used, " gemm_min=%lld",
                 (long long)bench_params_int(p, "flat_gemm_min_queries"));
        break;
    }
}

static bench_vecdata_synth synth_of(const bench_params *p)
{
    return (bench_vecdata_synth){
        .dim = (size_t)bench_params_int(p, "dim"),
        .n_clusters = (size_t)bench_params_int(p, "clusters"),
        .spread = bench_params_float(p, "spread"),
        .normalize = bench_params_bool(p, "normalize"),
        .seed = (uint64_t)bench_params_int(p, "seed"),
    };
}

/* The corpus: n synthetic vectors, or the first n of the data file. */
static int load_corpus(const bench_params *p, bench_vecs *out, bench_err *e)
{
    size_t n = (size_t)bench_params_int(p, "n"), dim = (size_t)bench_params_int(p, "dim");
    int rc;
    if (is_synthetic(p)) {
        bench_vecdata_synth sy = synth_of(p);
        rc = bench_vecdata_generate(&sy, BENCH_VECDATA_STREAM_CORPUS, n, out, NULL, e);
    } else if (embed_tier(p)) {
        rc = embed_vectors(embed_tier(p), (uint64_t)bench_params_int(p, "seed"), 0, n, dim, out, e);
    } else {
        rc = bench_vecdata_read(bench_params_string(p, "data"), 0, n, dim, out, e);
    }
    if (rc != 0) {
        bench_err inner = *e;
        bench_err_set(e, "search: data: %s", inner.msg);
    }
    return rc;
}

static void data_label(const bench_params *p, char *buf, size_t size)
{
    if (is_synthetic(p))
        snprintf(buf, size, "synthetic: Gaussian mixture, %lld clusters, spread %g, %s, seed %lld",
                 (long long)bench_params_int(p, "clusters"), bench_params_float(p, "spread"),
                 bench_params_bool(p, "normalize") ? "L2-normalised" : "not normalised",
                 (long long)bench_params_int(p, "seed"));
    else if (embed_tier(p))
        snprintf(buf, size,
                 "embeddings: %lld synthetic texts of %d-%d tokens embedded by %s (synthetic "
                 "weights), seed %lld",
                 (long long)bench_params_int(p, "n"), EMBED_MIN_TOKENS, EMBED_MAX_TOKENS,
                 embed_tier(p), (long long)bench_params_int(p, "seed"));
    else
        snprintf(buf, size, "file %s: its first %lld vectors", bench_params_string(p, "data"),
                 (long long)bench_params_int(p, "n"));
}

static double seconds_since(int64_t t0)
{
    return (double)(bench_clock_ns() - t0) * 1e-9;
}

/* Builds the index for p into a new cache entry. corpus receives the data (caller frees). */
static int build_index(const bench_params *p, const char *key, bench_vecs *corpus, build **out,
                       bench_err *e)
{
    *out = NULL;
    build *b = calloc(1, sizeof *b);
    if (!b)
        return bench_err_set(e, "search: out of memory");
    snprintf(b->key, sizeof b->key, "%s", key);
    b->built_at = g_setups - 1;
    data_label(p, b->data_label, sizeof b->data_label);
    if (load_corpus(p, corpus, e) != 0)
        goto fail;
    b->n = corpus->n;
    b->dim = corpus->dim;
    b->data_hash = bench_vecdata_hash(corpus);

    lore_index_kind kind = kind_of(bench_params_string(p, "kind"));
    lore_index_params ip = lore_index_default_params(kind, (int)b->dim);
    ip.metric =
        strcmp(bench_params_string(p, "metric"), "l2") == 0 ? LORE_METRIC_L2 : LORE_METRIC_IP;
    ip.seed = (uint64_t)bench_params_int(p, "seed");
    ip.flat_gemm_min_queries = (int)bench_params_int(p, "flat_gemm_min_queries");
    ip.n_lists = (int)bench_params_int(p, "lists");
    ip.kmeans_iters = (int)bench_params_int(p, "kmeans_iters");
    ip.max_train_per_list = (int)bench_params_int(p, "train_per_list");
    ip.M = (int)bench_params_int(p, "M");
    ip.ef_construction = (int)bench_params_int(p, "ef_construction");
    if (lore_index_new(&ip, &b->ix) != LORE_OK) {
        bench_err_set(e, "search: index: %s", lore_last_error());
        goto fail;
    }
    int64_t t0 = bench_clock_ns();
    if (lore_index_train(b->ix, corpus->x, corpus->n) != LORE_OK) {
        bench_err_set(e, "search: train: %s", lore_last_error());
        goto fail;
    }
    b->train_s = seconds_since(t0);
    t0 = bench_clock_ns();
    if (lore_index_add(b->ix, corpus->x, NULL, corpus->n) != LORE_OK) {
        bench_err_set(e, "search: add: %s", lore_last_error());
        goto fail;
    }
    b->add_s = seconds_since(t0);
    *out = b;
    return 0;
fail:
    build_free(b);
    return -1;
}

static int load_queries(const bench_params *p, state *s, bench_err *e)
{
    size_t nq = (size_t)bench_params_int(p, "n_queries"), dim = (size_t)bench_params_int(p, "dim");
    const char *qpath = bench_params_string(p, "queries");
    int rc;
    if (qpath[0]) {
        rc = bench_vecdata_read(qpath, 0, nq, dim, &s->queries, e);
        snprintf(s->queries_label, sizeof s->queries_label, "file %s: its first %zu vectors", qpath,
                 nq);
    } else if (is_synthetic(p)) {
        bench_vecdata_synth sy = synth_of(p);
        rc = bench_vecdata_generate(&sy, BENCH_VECDATA_STREAM_QUERIES, nq, &s->queries, NULL, e);
        snprintf(s->queries_label, sizeof s->queries_label,
                 "synthetic: %zu from the query stream (same mixture, not in the corpus)", nq);
    } else if (embed_tier(p)) {
        rc = embed_vectors(embed_tier(p), (uint64_t)bench_params_int(p, "seed"), 1, nq, dim,
                           &s->queries, e);
        snprintf(s->queries_label, sizeof s->queries_label,
                 "embeddings: %zu texts from a second text stream (not in the corpus)", nq);
    } else {
        size_t n = (size_t)bench_params_int(p, "n");
        const char *data = bench_params_string(p, "data");
        rc = bench_vecdata_read(data, n, nq, dim, &s->queries, e);
        snprintf(s->queries_label, sizeof s->queries_label,
                 "held out from %s: vectors %zu..%zu (not in the corpus)", data, n, n + nq - 1);
    }
    if (rc != 0) {
        bench_err inner = *e;
        bench_err_set(e, "search: queries: %s", inner.msg);
    }
    return rc;
}

/* The ground-truth cache folder: groundtruth under the benchmark cache folder (corpus.h). */
static const char *gt_cache_dir(char *buf, size_t size)
{
    snprintf(buf, size, "%s/groundtruth", bench_cache_dir());
    return buf;
}

/* Exact top k for the point's queries: the cache, or a brute force over the corpus. */
static int ground_truth(const bench_params *p, state *s, bench_vecs *corpus, bench_err *e)
{
    const build *b = s->b;
    char dir_buf[900];
    const char *dir = gt_cache_dir(dir_buf, sizeof dir_buf);
    uint64_t key = bench_vecdata_gt_key(b->data_hash, b->n, bench_vecdata_hash(&s->queries),
                                        s->queries.n, b->dim, s->k, s->metric);
    char path[1024];
    snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)key);
    bench_err warn;
    int hit = bench_vecdata_gt_load(dir, key, b->n, s->queries.n, b->dim, s->k, s->metric,
                                    &s->truth, &warn, e);
    if (hit < 0)
        return -1;
    if (hit) {
        snprintf(s->gt_label, sizeof s->gt_label,
                 "exact (BLAS brute force, double re-rank), read from the cache %s", path);
        return 0;
    }
    if (warn.msg[0])
        fprintf(stderr, "lore-bench: warning: ground-truth cache %s; recomputing it\n", warn.msg);
    if (!corpus->x && load_corpus(p, corpus, e) != 0)
        return -1;
    if (!(s->truth = malloc(s->queries.n * (size_t)s->k * sizeof *s->truth)))
        return bench_err_set(e, "search: out of memory for the ground truth");
    /* Not timed: give the brute force every core, then back to the point's one thread. */
    lore_blas_info info;
    lore_blas_get_info(&info);
    lore_blas_set_threads(info.n_threads_max);
    int rc = bench_vecdata_gt_compute(corpus, &s->queries, s->k, s->metric, s->truth, e);
    lore_blas_set_threads(1);
    if (rc != 0)
        return -1;
    if (bench_vecdata_gt_store(dir, key, b->n, s->queries.n, b->dim, s->k, s->metric, s->truth,
                               &warn) != 0) {
        fprintf(stderr, "lore-bench: warning: ground truth not cached: %s\n", warn.msg);
        snprintf(s->gt_label, sizeof s->gt_label,
                 "exact (BLAS brute force, double re-rank), computed here, not cached");
    } else {
        snprintf(s->gt_label, sizeof s->gt_label,
                 "exact (BLAS brute force, double re-rank), computed here, cached as %s", path);
    }
    return 0;
}

static int search_threaded(state *s, bench_err *e);

/* Every query once, as the measured operations run them; scores recall@k. */
static int recall_pass(state *s, bench_err *e)
{
    if (s->batch && s->threads > 1) /* the threaded path writes s->scores / s->ids */
        return search_threaded(s, e) != 0
                   ? -1
                   : bench_vecdata_recall(s->ids, s->truth, s->queries.n, s->k, &s->recall, e);
    size_t nq = s->queries.n, dim = s->queries.dim, k = (size_t)s->k;
    float *scores = malloc(nq * k * sizeof *scores);
    int64_t *ids = malloc(nq * k * sizeof *ids);
    int rc = -1;
    if (!scores || !ids) {
        bench_err_set(e, "search: out of memory for %zu x %zu results", nq, k);
        goto done;
    }
    if (s->batch) {
        if (lore_index_search(s->b->ix, s->queries.x, nq, s->k, &s->sp, scores, ids) != LORE_OK) {
            bench_err_set(e, "%s (recall pass, batch of %zu)", lore_last_error(), nq);
            goto done;
        }
    } else {
        for (size_t i = 0; i < nq; i++)
            if (lore_index_search(s->b->ix, s->queries.x + i * dim, 1, s->k, &s->sp, scores + i * k,
                                  ids + i * k) != LORE_OK) {
                bench_err_set(e, "%s (recall pass, query %zu)", lore_last_error(), i);
                goto done;
            }
    }
    rc = bench_vecdata_recall(ids, s->truth, nq, s->k, &s->recall, e);
done:
    free(scores);
    free(ids);
    return rc;
}

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    /* The index stays in the build cache for the next point. */
    lore_blas_set_threads(s->blas_threads_before);
    bench_vecs_free(&s->queries);
    free(s->truth);
    free(s->scores);
    free(s->ids);
    free(s);
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    g_setups++;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "search: out of memory");
    bench_vecs corpus = {0};
    lore_blas_info info;
    lore_blas_get_info(&info);
    s->blas_threads_before = info.n_threads;
    /* One thread end to end: the build, the recall pass and the measured searches. */
    lore_blas_set_threads(1);
    lore_blas_get_info(&info);
    snprintf(s->blas_label, sizeof s->blas_label, "%s, core %s, %d thread(s)", info.library,
             info.core, info.n_threads);

    s->metric =
        strcmp(bench_params_string(p, "metric"), "l2") == 0 ? LORE_METRIC_L2 : LORE_METRIC_IP;
    s->k = (int)bench_params_int(p, "k");
    s->batch = strcmp(bench_params_string(p, "query_mode"), "batch") == 0;
    s->threads = (int)bench_params_int(p, "threads");
    if (!s->batch && s->threads > 1) {
        bench_err_set(e, "search: threads=%d needs query_mode=batch (one query is not split)",
                      s->threads);
        lore_blas_set_threads(s->blas_threads_before);
        free(s);
        return -1;
    }
    s->sp = lore_search_default_params();
    s->sp.n_probes = (int)bench_params_int(p, "probes");
    s->sp.ef_search = (int)bench_params_int(p, "ef_search");

    char key[sizeof g_build->key];
    build_key(p, key, sizeof key);
    if (g_build && strcmp(g_build->key, key) == 0) {
        s->b = g_build;
    } else {
        /* Free the old index before building the next: two at once could exhaust memory. */
        cache_drop();
        build *b;
        if (build_index(p, key, &corpus, &b, e) != 0)
            goto fail;
        if (!g_atexit)
            g_atexit = atexit(cache_drop) == 0;
        g_build = b;
        s->b = b;
        s->built_here = true;
    }
    if (load_queries(p, s, e) != 0 || ground_truth(p, s, &corpus, e) != 0)
        goto fail;
    bench_vecs_free(&corpus);
    size_t slots = (s->batch ? s->queries.n : 1) * (size_t)s->k;
    s->scores = malloc(slots * sizeof *s->scores);
    s->ids = malloc(slots * sizeof *s->ids);
    if (!s->scores || !s->ids) {
        bench_err_set(e, "search: out of memory");
        goto fail;
    }
    if (recall_pass(s, e) != 0)
        goto fail;
    lore_index_reset_stats(g_build->ix);
    *out = s;
    return 0;
fail:
    bench_vecs_free(&corpus);
    teardown(s);
    return -1;
}

typedef struct slice {
    const state *s;
    size_t begin, end;
    lore_status status;
    char error[256];
} slice;

static void *search_slice(void *arg)
{
    slice *sl = arg;
    const state *s = sl->s;
    size_t d = s->queries.dim, k = (size_t)s->k;
    sl->status = lore_index_search(s->b->ix, s->queries.x + sl->begin * d, sl->end - sl->begin,
                                   s->k, &s->sp, s->scores + sl->begin * k, s->ids + sl->begin * k);
    if (sl->status != LORE_OK)
        snprintf(sl->error, sizeof sl->error, "%s", lore_last_error());
    return NULL;
}

/* Batch mode over threads: contiguous query slices, one on this thread, the rest on new ones
 * (creating them costs tens of microseconds against milliseconds of searching). */
static int search_threaded(state *s, bench_err *e)
{
    enum { MAX_SLICES = 64 };
    slice sl[MAX_SLICES];
    pthread_t tid[MAX_SLICES];
    bool started[MAX_SLICES] = {false};
    size_t t = (size_t)s->threads, nq = s->queries.n;
    for (size_t i = 0; i < t; i++)
        sl[i] = (slice){s, nq * i / t, nq * (i + 1) / t, LORE_OK, ""};
    for (size_t i = 1; i < t; i++)
        started[i] = pthread_create(&tid[i], NULL, search_slice, &sl[i]) == 0;
    search_slice(&sl[0]);
    for (size_t i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            search_slice(&sl[i]); /* no thread to be had: searched here, still correct */
    }
    for (size_t i = 0; i < t; i++)
        if (sl[i].status != LORE_OK)
            return bench_err_set(e, "search: %s", sl[i].error);
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    const float *q = s->queries.x;
    size_t nq = s->queries.n;
    if (s->batch && s->threads > 1)
        return search_threaded(s, e);
    if (!s->batch) {
        q += s->cursor * s->queries.dim;
        nq = 1;
        s->cursor = (s->cursor + 1) % s->queries.n;
    }
    if (lore_index_search(s->b->ix, q, nq, s->k, &s->sp, s->scores, s->ids) != LORE_OK)
        return bench_err_set(e, "search: %s", lore_last_error());
    return 0;
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return s->batch ? (double)s->queries.n : 1.0;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    const state *s = opaque;
    lore_index_stats st;
    lore_index_get_stats(s->b->ix, &st);
    /* Stats cover every search since setup (warm-up and measured): per-query averages. */
    double per_query = st.n_searches > 0 ? 1.0 / (double)st.n_searches : 0.0;
    size_t bytes = lore_index_memory_bytes(s->b->ix);
    int rc = bench_metric_add(out, "qps", m->items_per_s, "queries/s", BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "recall_at_k", s->recall, "ratio", BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "train_s", s->b->train_s, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "add_s", s->b->add_s, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "build_s", s->b->train_s + s->b->add_s, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "index_bytes", (double)bytes, "bytes", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "index_bytes_per_vector", (double)bytes / (double)s->b->n, "bytes",
                           BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "distances_per_query", (double)st.n_distances * per_query, "count",
                           BENCH_BETTER_NONE);
    lore_index_kind kind = lore_index_params_of(s->b->ix)->kind;
    if (kind == LORE_INDEX_IVF)
        rc |= bench_metric_add(out, "lists_probed_per_query", (double)st.n_lists_probed * per_query,
                               "count", BENCH_BETTER_NONE);
    if (kind == LORE_INDEX_HNSW)
        rc |= bench_metric_add(out, "hops_per_query", (double)st.n_hops * per_query, "count",
                               BENCH_BETTER_NONE);
    return rc ? -1 : 0;
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    char hash[32], build_label[96];
    snprintf(hash, sizeof hash, "fnv1a64:%016llx", (unsigned long long)s->b->data_hash);
    if (s->built_here)
        snprintf(build_label, sizeof build_label, "built here");
    else
        snprintf(build_label, sizeof build_label, "reused from point %zu", s->b->built_at);
    bool ok = cJSON_AddStringToObject(out, "data", s->b->data_label) &&
              cJSON_AddStringToObject(out, "data_hash", hash) &&
              cJSON_AddStringToObject(out, "queries", s->queries_label) &&
              cJSON_AddStringToObject(out, "ground_truth", s->gt_label) &&
              cJSON_AddStringToObject(out, "build", build_label) &&
              cJSON_AddStringToObject(out, "blas", s->blas_label) &&
              cJSON_AddStringToObject(out, "kernel_isa", lore_index_kernel_isa(s->b->ix));
    return ok ? 0 : -1;
}

const bench_workload bench_workload_search = {
    .name = "search",
    .description = "k-nearest-neighbour search on a flat, IVF or HNSW index: QPS, recall@k "
                   "against exact search, build time (one search thread)",
    .item_unit = "query",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .labels = labels,
    .teardown = teardown,
};
