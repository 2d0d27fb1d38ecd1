/*
 * query.c - workload: the query pipeline end to end (text -> embed -> index
 * search -> fetch chunk texts -> optional NLI verification or re-ranking).
 * One item is one query, so the throughput is queries/s and the runner's
 * latency percentiles are per query.
 *
 * The store: a synthetic corpus (corpus.h) grown document by document until
 * the chunker makes at least n_chunks chunks of it, ingested through the
 * pipeline. Building it embeds every chunk once (minutes for 10k chunks with
 * minilm-l6), so it is cached as bench_cache_dir()/corpus/<key>.sqlite, where
 * key is a hash of every input the file depends on (corpus, chunking, model,
 * seed, index kind and build parameters, engine and schema versions; the
 * key's text is kept beside it as <key>.txt). A store for a non-flat index is
 * derived from the flat store of the same corpus (copied and opened writable
 * with the point's index: the pipeline rebuilds it from the stored embeddings
 * and saves its snapshot), so the corpus is embedded once for all index kinds. A cached store is
 * opened read-only and checked (lore_store_verify, quick) before use; one that
 * fails is rebuilt.
 *
 * Modes:
 *   warm  the pipeline is opened once in setup; an operation is one
 *         lore_pipeline_query. Queries cycle through n_queries distinct
 *         texts, so with the query cache on, repeats hit it.
 *   cold  an operation is lore_pipeline_open (embedder, and NLI model, created;
 *         index snapshot loaded from the store) + the first query + close:
 *         what a fresh process pays, less dynamic loading, and with the
 *         database file in the page cache.
 *
 * Queries: synthetic questions of query_tokens word pieces from a text stream
 * apart from the corpus's, and a share (chunk_queries) that are the exact
 * text of a stored chunk; for those the chunk itself should come first
 * (self_hit_rate: 1 for a flat index, below 1 when an approximate index
 * misses it).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "lore/lore.h"
#include "measure/clock.h"
#include "textgen.h"
#include "workload.h"
#include "workloads/encoder_common.h"

static const char *const tier_choices[] = {"minilm-l3", "minilm-l6", "minilm-l12",
                                           "bge-small", "bge-base",  NULL};
static const char *const nli_tier_choices[] = {"nli-minilm-l6", NULL};
static const char *const index_choices[] = {"flat", "ivf", "hnsw", NULL};
static const char *const rerank_choices[] = {"none", "verify", "nli", NULL};
static const char *const mode_choices[] = {"warm", "cold", NULL};

static const bench_param_spec params[] = {
    {"n_chunks", BENCH_PARAM_INT, "10000", 1, 1e7, NULL, "chunks",
     "corpus size: documents are added until the chunker makes at least this many chunks"},
    {"doc_bytes", BENCH_PARAM_INT, "4000", 16, 1 << 26, NULL, "bytes", "median document size"},
    {"doc_sigma", BENCH_PARAM_FLOAT, "0.5", 0, 4, NULL, "",
     "log-normal shape of document sizes (0: all doc_bytes)"},
    {"chunk_size", BENCH_PARAM_INT, "500", 1, 1 << 20, NULL, "characters", "chunk window"},
    {"chunk_overlap", BENCH_PARAM_INT, "60", 0, 1 << 20, NULL, "characters",
     "characters shared by neighbouring chunks"},
    {"seed", BENCH_PARAM_INT, "1", 0, 1e15, NULL, "",
     "seed of the weights, the corpus, the index and the queries"},
    {"tier", BENCH_PARAM_STRING, "minilm-l6", 0, 0, tier_choices, "",
     "embedding model tier; synthetic weights unless model_dir is set"},
    {"model_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "Hugging Face model folder to load instead of synthetic weights"},
    {"threads", BENCH_PARAM_INT, "1", 1, 64, NULL, "threads",
     "threads of the models (a single query runs on the calling thread with this many BLAS "
     "threads)"},
    {"kind", BENCH_PARAM_STRING, "flat", 0, 0, index_choices, "", "vector index kind"},
    {"lists", BENCH_PARAM_INT, "100", 1, 1 << 24, NULL, "lists", "ivf: k-means lists"},
    {"M", BENCH_PARAM_INT, "16", 2, 1024, NULL, "links", "hnsw: links per node"},
    {"ef_construction", BENCH_PARAM_INT, "200", 1, 1 << 20, NULL, "",
     "hnsw: candidate list while building"},
    {"probes", BENCH_PARAM_INT, "8", 1, 1 << 24, NULL, "lists", "ivf: lists scanned per query"},
    {"ef", BENCH_PARAM_INT, "0", 0, 1 << 20, NULL, "",
     "hnsw: candidate list while searching (>= the candidates wanted); 0: the engine's default"},
    {"k", BENCH_PARAM_INT, "5", 1, 1000, NULL, "hits", "hits per query"},
    {"rerank", BENCH_PARAM_STRING, "none", 0, 0, rerank_choices, "",
     "none: vector scores; verify: NLI probabilities on the top rerank_depth; nli: re-ordered "
     "by entailment"},
    {"rerank_depth", BENCH_PARAM_INT, "0", 0, 10000, NULL, "hits",
     "rerank=nli: candidates searched and judged by the NLI model (>= k); 0: the engine's "
     "default (2k); verify judges the k hits (see verified_per_query)"},
    {"nli_tier", BENCH_PARAM_STRING, "nli-minilm-l6", 0, 0, nli_tier_choices, "",
     "NLI model tier (synthetic weights unless nli_model_dir is set)"},
    {"nli_model_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "", "NLI model folder"},
    {"mode", BENCH_PARAM_STRING, "warm", 0, 0, mode_choices, "",
     "warm: one query on an open pipeline; cold: open + first query + close"},
    {"n_queries", BENCH_PARAM_INT, "64", 1, 1e6, NULL, "queries",
     "distinct query texts, cycled through"},
    {"query_tokens", BENCH_PARAM_INT, "16", 1, 510, NULL, "tokens",
     "word pieces per synthetic question"},
    {"chunk_queries", BENCH_PARAM_FLOAT, "0", 0, 1, NULL, "",
     "share of the queries that are the exact text of a stored chunk"},
    {"cache", BENCH_PARAM_BOOL, "false", 0, 0, NULL, "", "the query embedding cache (4 MiB)"},
};

#define QUERY_CACHE_BYTES (4u << 20)
#define QUERY_STREAM 0x717565726965730aULL /* "queries": apart from the corpus's text */
/* Path buffers: the cache folder, a file in it, its temporary twin, their -wal/-shm. */
#define DIR_CAP 768
#define PATH_CAP 1024
#define TMP_CAP (PATH_CAP + 32)
#define SIDE_CAP (TMP_CAP + 8)
#define KEY_SCHEMA "lore-bench-query-store/1"

typedef struct state {
    lore_pipeline_params pp; /* as the measured pipelines open: read-only store */
    lore_query_params qp;
    bool cold;
    char store_path[PATH_CAP];
    char store_label[PATH_CAP + 64];
    char key_text[2048];
    lore_pipeline *pl; /* warm: open for the whole point */
    lore_pipeline_open_info info;
    lore_encoder_settings settings; /* its strings point into the copies below */
    char tier_name[64], model_id[256], kernel_isa[32];
    bool have_settings;
    char **texts;
    size_t *lens;
    int64_t *expect; /* chunk query: the chunk id it copies; 0 for a question */
    size_t n_queries, n_chunk_queries;
    size_t cursor;
    lore_query_result res;
    /* Sums over every operation since setup. */
    uint64_t n_ops;
    int64_t op_ns, open_ns, close_ns;
    int64_t stage_ns[LORE_QUERY_N_STAGES];
    int64_t n_cached, n_hits, n_verified, n_self_asked, n_self_hit, n_index_loaded;
} state;

/* ---- the store's key ---------------------------------------------------------- */

static lore_index_kind kind_of(const char *s)
{
    return strcmp(s, "ivf") == 0    ? LORE_INDEX_IVF
           : strcmp(s, "hnsw") == 0 ? LORE_INDEX_HNSW
                                    : LORE_INDEX_FLAT;
}

/* Everything the stored corpus and its embeddings depend on (not the index). */
static int corpus_key(const bench_params *p, char *buf, size_t size)
{
    const char *dir = bench_params_string(p, "model_dir");
    char model[PATH_CAP + 128];
    if (dir[0]) {
        /* A model folder is named by its path and its weights file's size and time. */
        char path[PATH_CAP + 32];
        struct stat st;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (stat(path, &st) == 0)
            snprintf(model, sizeof model, "dir=%s size=%lld mtime=%lld", dir, (long long)st.st_size,
                     (long long)st.st_mtime);
        else
            snprintf(model, sizeof model, "dir=%s", dir);
    } else {
        snprintf(model, sizeof model, "tier=%s", bench_params_string(p, "tier"));
    }
    return snprintf(buf, size,
                    "%s lore=%s schema=%d n_chunks=%lld doc_bytes=%lld sigma=%.17g "
                    "chunk=%lld/%lld seed=%lld %s",
                    KEY_SCHEMA, lore_version(), LORE_STORE_SCHEMA_VERSION,
                    (long long)bench_params_int(p, "n_chunks"),
                    (long long)bench_params_int(p, "doc_bytes"), bench_params_float(p, "doc_sigma"),
                    (long long)bench_params_int(p, "chunk_size"),
                    (long long)bench_params_int(p, "chunk_overlap"),
                    (long long)bench_params_int(p, "seed"), model);
}

static void index_key(const lore_index_params *ip, char *buf, size_t size)
{
    switch (ip->kind) {
    case LORE_INDEX_IVF:
        snprintf(buf, size, " index=ivf lists=%d iters=%d train=%d", ip->n_lists, ip->kmeans_iters,
                 ip->max_train_per_list);
        break;
    case LORE_INDEX_HNSW:
        snprintf(buf, size, " index=hnsw M=%d efc=%d", ip->M, ip->ef_construction);
        break;
    case LORE_INDEX_FLAT:
        snprintf(buf, size, " index=flat");
        break;
    }
}

/* dir/<fnv1a64 of key>.<ext> */
static void key_path(const char *dir, const char *key, const char *ext, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%016llx.%s", dir, (unsigned long long)bench_fnv1a64(key, strlen(key)),
             ext);
}

/* ---- building a store ------------------------------------------------------- */

static void remove_db(const char *path)
{
    char side[SIDE_CAP];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Moves a closed database (and a WAL SQLite left, if any) to its final name. */
static int publish_db(const char *tmp, const char *path, bench_err *e)
{
    char tmp_side[SIDE_CAP], side[SIDE_CAP];
    snprintf(tmp_side, sizeof tmp_side, "%s-wal", tmp);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    if (access(tmp_side, F_OK) == 0 && rename(tmp_side, side) != 0)
        return bench_err_set(e, "query: cannot rename %s to %s: %s", tmp_side, side,
                             strerror(errno));
    snprintf(tmp_side, sizeof tmp_side, "%s-shm", tmp);
    unlink(tmp_side);
    if (rename(tmp, path) != 0)
        return bench_err_set(e, "query: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    return 0;
}

static int copy_file(const char *from, const char *to, bench_err *e)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return bench_err_set(e, "query: cannot open %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return bench_err_set(e, "query: cannot create %s: %s", to, strerror(errno));
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = bench_err_set(e, "query: cannot read %s: %s", from, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = bench_err_set(e, "query: cannot write %s: %s", to, strerror(errno));
                goto done;
            }
            off += w;
        }
    }
done:
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = bench_err_set(e, "query: cannot write %s: %s", to, strerror(errno));
    return rc;
}

/* Parameters of the pipeline that builds a store: all cores, no cache, no NLI, read-write. */
static lore_pipeline_params build_params(const state *s)
{
    lore_blas_info info;
    lore_blas_get_info(&info);
    lore_pipeline_params bp = s->pp;
    bp.store = lore_store_default_params();
    bp.embed.n_threads = info.n_threads_max > 0 ? info.n_threads_max : 1;
    bp.embed.thread_mode = LORE_THREADS_WORKERS;
    bp.embed.cache_bytes = 0;
    bp.nli = false;
    bp.shared_embedder = NULL;
    bp.shared_nli = NULL;
    return bp;
}

static bool on_progress(void *ctx, const lore_ingest_progress *pr)
{
    int64_t *next = ctx;
    if (pr->n_done >= *next || pr->n_done == pr->n_total) {
        fprintf(stderr, "lore-bench: query: store build: %lld/%lld documents, %lld chunks\n",
                (long long)pr->n_done, (long long)pr->n_total, (long long)pr->n_chunks);
        *next = pr->n_done + (pr->n_total + 9) / 10;
    }
    return true;
}

/* Chunks the chunker makes of one document (the count the pipeline will store). */
static int count_chunks(const lore_chunker_params *cp, const lore_doc_text *d,
                        lore_chunk_list *list, size_t *n, bench_err *e)
{
    if (lore_chunker_split(cp, d->text, d->len, list) != LORE_OK)
        return bench_err_set(e, "query: chunker: %s", lore_last_error());
    *n = list->n;
    return 0;
}

/* Ingests the corpus into a new store at tmp with the index of bp. */
static int ingest_corpus(const bench_params *p, const lore_pipeline_params *bp, const char *tmp,
                         bench_err *e)
{
    size_t target = (size_t)bench_params_int(p, "n_chunks");
    bench_corpus_params cp = {
        .doc_bytes = (size_t)bench_params_int(p, "doc_bytes"),
        .sigma = bench_params_float(p, "doc_sigma"),
        .seed = (uint64_t)bench_params_int(p, "seed"),
    };
    lore_pipeline *pl = NULL;
    lore_doc_text *docs = NULL;
    lore_chunk_list list = {0};
    lore_ingest_report r;
    memset(&r, 0, sizeof r);
    size_t n_use = 0, n_made = 0;
    int rc = -1;
    if (lore_pipeline_open(tmp, bp, &pl, NULL) != LORE_OK) {
        bench_err_set(e, "query: open %s: %s", tmp, lore_last_error());
        goto done;
    }
    /* A first guess from the mean document size, then doubled until the chunks suffice;
     * corpora are prefix-stable, so the result is the shortest prefix that reaches target. */
    double mean_bytes = (double)cp.doc_bytes * exp(cp.sigma * cp.sigma / 2);
    double stride = (double)(bp->chunk.size - bp->chunk.overlap) * 0.8;
    cp.n_docs = (size_t)((double)target * stride / mean_bytes * 1.25) + 4;
    for (;;) {
        bench_corpus_free(docs, n_made);
        docs = NULL;
        n_made = 0;
        if (bench_corpus_make(&cp, lore_embedder_tokenizer(lore_pipeline_embedder(pl)), &docs, e) !=
            0)
            goto done;
        n_made = cp.n_docs;
        size_t total = 0;
        for (n_use = 0; n_use < n_made && total < target; n_use++) {
            size_t n = 0;
            if (count_chunks(&bp->chunk, &docs[n_use], &list, &n, e) != 0)
                goto done;
            total += n;
        }
        if (total >= target)
            break;
        cp.n_docs *= 2;
    }
    int64_t next = 0;
    if (lore_pipeline_ingest_texts(pl, docs, n_use, on_progress, &next, &r) != LORE_OK) {
        bench_err_set(e, "query: store build: %s", lore_last_error());
        goto done;
    }
    if (r.n_added != (int64_t)n_use) {
        bench_err_set(e, "query: store build: %lld of %zu documents added (%lld skipped)",
                      (long long)r.n_added, n_use, (long long)r.n_skipped);
        goto done;
    }
    rc = 0;
done:
    lore_ingest_report_free(&r);
    lore_pipeline_close(pl);
    lore_chunk_list_free(&list);
    bench_corpus_free(docs, n_made);
    return rc;
}

/*
 * A store for a non-flat index from the flat store of the same corpus: copied
 * and opened writable with the point's index, which the pipeline rebuilds from
 * the stored embeddings and saves as a snapshot at open. Returns 1 when no store came of it (the
 * flat one does not check out, or the snapshot was not saved that way: the caller then builds from
 * scratch), 0 on success, -1 on failure.
 */
static int derive_store(const lore_pipeline_params *bp, const char *flat, const char *tmp,
                        bench_err *e)
{
    if (copy_file(flat, tmp, e) != 0)
        return -1;
    lore_pipeline *pl = NULL;
    lore_pipeline_open_info info;
    /* A flat store that does not open or check out is not worth deriving from. */
    if (lore_pipeline_open(tmp, bp, &pl, &info) != LORE_OK) {
        fprintf(stderr, "lore-bench: warning: flat store %s: %s\n", flat, lore_last_error());
        return 1;
    }
    if (lore_store_verify(lore_pipeline_store(pl), false) != LORE_OK) {
        fprintf(stderr, "lore-bench: warning: flat store %s: %s\n", flat, lore_last_error());
        lore_pipeline_close(pl);
        return 1;
    }
    lore_pipeline_close(pl);
    if (lore_pipeline_open(tmp, bp, &pl, &info) != LORE_OK)
        return bench_err_set(e, "query: open %s: %s", tmp, lore_last_error());
    lore_pipeline_close(pl);
    return info.index_loaded ? 0 : 1;
}

static int write_key_text(const char *dir, const char *key, bench_err *e)
{
    char path[PATH_CAP];
    key_path(dir, key, "txt", path, sizeof path);
    char text[2100];
    int n = snprintf(text, sizeof text, "%s\n", key);
    return bench_write_file_atomic(path, text, (size_t)n, e);
}

/*
 * Makes the store for key at path (in dir): derived from the flat store when
 * the index is not flat (building that first when missing), else ingested.
 */
static int build_store(const bench_params *p, const state *s, const char *dir, const char *ckey,
                       const char *key, const char *path, bench_err *e)
{
    lore_pipeline_params bp = build_params(s);
    char tmp[TMP_CAP];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    remove_db(tmp);
    if (bp.index.kind != LORE_INDEX_FLAT) {
        char flat_key[2048], flat_path[PATH_CAP], ik[128];
        lore_index_params fp = lore_index_default_params(LORE_INDEX_FLAT, bp.index.dim);
        index_key(&fp, ik, sizeof ik);
        snprintf(flat_key, sizeof flat_key, "%s%s", ckey, ik);
        key_path(dir, flat_key, "sqlite", flat_path, sizeof flat_path);
        if (access(flat_path, F_OK) != 0) {
            state flat_state = *s;
            flat_state.pp.index = fp;
            fprintf(stderr, "lore-bench: query: first building the flat store %s\n", flat_path);
            if (build_store(p, &flat_state, dir, ckey, flat_key, flat_path, e) != 0)
                return -1;
        }
        fprintf(stderr,
                "lore-bench: query: deriving %s from %s (index %s rebuilt from the stored "
                "embeddings)\n",
                path, flat_path, lore_index_kind_name(bp.index.kind));
        int d = derive_store(&bp, flat_path, tmp, e);
        if (d < 0) {
            remove_db(tmp);
            return -1;
        }
        if (d == 0)
            goto publish;
        fprintf(stderr, "lore-bench: query: no store derived that way; ingesting from "
                        "scratch\n");
        remove_db(tmp);
    }
    fprintf(stderr,
            "lore-bench: query: building the store %s: embedding a %lld-chunk corpus with %s "
            "(%d threads); this can take minutes and is done once (cached under %s)\n",
            path, (long long)bench_params_int(p, "n_chunks"),
            bp.embed.model_dir ? bp.embed.model_dir : bp.embed.tier, bp.embed.n_threads, dir);
    int64_t t0 = bench_clock_ns();
    if (ingest_corpus(p, &bp, tmp, e) != 0) {
        remove_db(tmp);
        return -1;
    }
    fprintf(stderr, "lore-bench: query: store built in %.1f s\n",
            (double)(bench_clock_ns() - t0) * 1e-9);
publish:
    if (publish_db(tmp, path, e) != 0) {
        remove_db(tmp);
        return -1;
    }
    bench_err warn;
    if (write_key_text(dir, key, &warn) != 0)
        fprintf(stderr, "lore-bench: warning: %s\n", warn.msg);
    return 0;
}

/* ---- setup -------------------------------------------------------------------- */

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    lore_query_result_free(&s->res);
    lore_pipeline_close(s->pl);
    for (size_t i = 0; s->texts && i < s->n_queries; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s->lens);
    free(s->expect);
    free(s);
}

static void fill_params(const bench_params *p, state *s)
{
    lore_pipeline_params *pp = &s->pp;
    *pp = lore_pipeline_default_params();
    const char *dir = bench_params_string(p, "model_dir");
    int threads = (int)bench_params_int(p, "threads");
    pp->store.read_only = true;
    pp->store.create = false;
    pp->embed = lore_embedder_default_params();
    pp->embed.tier = bench_params_string(p, "tier");
    pp->embed.model_dir = dir[0] ? dir : NULL;
    pp->embed.seed = (uint64_t)bench_params_int(p, "seed");
    pp->embed.n_threads = threads;
    pp->embed.cache_bytes = bench_params_bool(p, "cache") ? QUERY_CACHE_BYTES : 0;
    pp->chunk.unit = LORE_CHUNK_CHARS;
    pp->chunk.size = (size_t)bench_params_int(p, "chunk_size");
    pp->chunk.overlap = (size_t)bench_params_int(p, "chunk_overlap");
    /* dim is the embedder's; the pipeline fills it in. */
    pp->index = lore_index_default_params(kind_of(bench_params_string(p, "kind")), 1);
    pp->index.seed = (uint64_t)bench_params_int(p, "seed");
    pp->index.n_lists = (int)bench_params_int(p, "lists");
    pp->index.M = (int)bench_params_int(p, "M");
    pp->index.ef_construction = (int)bench_params_int(p, "ef_construction");
    const char *rerank = bench_params_string(p, "rerank");
    s->qp = lore_query_default_params();
    s->qp.k = (int)bench_params_int(p, "k");
    s->qp.search.n_probes = (int)bench_params_int(p, "probes");
    s->qp.search.ef_search = (int)bench_params_int(p, "ef");
    s->qp.rerank = strcmp(rerank, "verify") == 0 ? LORE_RERANK_VERIFY
                   : strcmp(rerank, "nli") == 0  ? LORE_RERANK_NLI
                                                 : LORE_RERANK_NONE;
    int depth = (int)bench_params_int(p, "rerank_depth");
    s->qp.rerank_depth = depth > 0 ? depth : 2 * s->qp.k;
    if (s->qp.rerank != LORE_RERANK_NONE) {
        const char *ndir = bench_params_string(p, "nli_model_dir");
        pp->nli = true;
        pp->nli_model = lore_nli_default_params();
        pp->nli_model.tier = bench_params_string(p, "nli_tier");
        pp->nli_model.model_dir = ndir[0] ? ndir : NULL;
        pp->nli_model.seed = (uint64_t)bench_params_int(p, "seed");
        pp->nli_model.n_threads = threads;
    }
    s->cold = strcmp(bench_params_string(p, "mode"), "cold") == 0;
}

/* Opens the store read-only and checks it. Returns 0, 1 (not usable: rebuild), -1 (error). */
static int open_checked(state *s, bench_err *e)
{
    lore_status st = lore_pipeline_open(s->store_path, &s->pp, &s->pl, &s->info);
    if (st != LORE_OK) {
        if (st == LORE_ECORRUPT) {
            fprintf(stderr, "lore-bench: warning: cached store %s: %s; rebuilding it\n",
                    s->store_path, lore_last_error());
            return 1;
        }
        return bench_err_set(e, "query: open %s: %s", s->store_path, lore_last_error());
    }
    if (lore_store_verify(lore_pipeline_store(s->pl), false) != LORE_OK) {
        fprintf(stderr,
                "lore-bench: warning: cached store %s failed verification: %s; "
                "rebuilding it\n",
                s->store_path, lore_last_error());
        lore_pipeline_close(s->pl);
        s->pl = NULL;
        return 1;
    }
    if (s->info.n_chunks <= 0 || s->info.n_vectors != s->info.n_chunks) {
        fprintf(stderr,
                "lore-bench: warning: cached store %s holds %lld chunks and %lld vectors; "
                "rebuilding it\n",
                s->store_path, (long long)s->info.n_chunks, (long long)s->info.n_vectors);
        lore_pipeline_close(s->pl);
        s->pl = NULL;
        return 1;
    }
    return 0;
}

/* The store for the point: cached, or built now. Leaves it open in s->pl. */
static int ensure_store(const bench_params *p, state *s, bench_err *e)
{
    char dir[DIR_CAP], ckey[1900], ik[128];
    if (snprintf(dir, sizeof dir, "%s/corpus", bench_cache_dir()) >= (int)sizeof dir)
        return bench_err_set(e, "query: cache folder %s: path too long", bench_cache_dir());
    corpus_key(p, ckey, sizeof ckey);
    index_key(&s->pp.index, ik, sizeof ik);
    snprintf(s->key_text, sizeof s->key_text, "%s%s", ckey, ik);
    key_path(dir, s->key_text, "sqlite", s->store_path, sizeof s->store_path);
    if (access(s->store_path, F_OK) == 0) {
        int rc = open_checked(s, e);
        if (rc <= 0) {
            if (rc == 0)
                snprintf(s->store_label, sizeof s->store_label, "read from the cache %s",
                         s->store_path);
            return rc;
        }
        remove_db(s->store_path);
    }
    if (bench_mkdir_p(dir, e) != 0)
        return -1;
    if (build_store(p, s, dir, ckey, s->key_text, s->store_path, e) != 0)
        return -1;
    int rc = open_checked(s, e);
    if (rc > 0)
        return bench_err_set(e, "query: the store just built at %s does not check out",
                             s->store_path);
    if (rc == 0)
        snprintf(s->store_label, sizeof s->store_label, "built here, cached as %s", s->store_path);
    return rc;
}

/* A stored chunk's text as a query; *id its chunk id (0 when none was found). */
static int chunk_query(state *s, bench_textgen *g, char **text, size_t *len, int64_t *id,
                       bench_err *e)
{
    lore_store *st = lore_pipeline_store(s->pl);
    lore_chunk_buf buf = {0};
    int rc = 0;
    *id = 0;
    /* Chunk ids of a store the pipeline filled in one go run 1..n; try a few in case not. */
    for (int attempt = 0; attempt < 16 && *id == 0; attempt++) {
        int64_t want = 1 + (int64_t)(bench_textgen_rand(g) % (uint64_t)s->info.n_chunks);
        if (lore_store_get_chunks(st, &want, 1, &buf) != LORE_OK) {
            rc = bench_err_set(e, "query: reading chunk %lld: %s", (long long)want,
                               lore_last_error());
            break;
        }
        if (buf.n == 1 && buf.rows[0].found) {
            if (!(*text = malloc(buf.rows[0].text_len + 1))) {
                rc = bench_err_set(e, "query: out of memory");
                break;
            }
            memcpy(*text, buf.rows[0].text, buf.rows[0].text_len);
            (*text)[buf.rows[0].text_len] = '\0';
            *len = buf.rows[0].text_len;
            *id = want;
        }
    }
    lore_chunk_buf_free(&buf);
    return rc;
}

static int make_queries(const bench_params *p, state *s, bench_err *e)
{
    size_t n = (size_t)bench_params_int(p, "n_queries");
    int tokens = (int)bench_params_int(p, "query_tokens");
    double share = bench_params_float(p, "chunk_queries");
    bench_textgen *g = NULL;
    s->texts = calloc(n, sizeof *s->texts);
    s->lens = calloc(n, sizeof *s->lens);
    s->expect = calloc(n, sizeof *s->expect);
    if (!s->texts || !s->lens || !s->expect)
        return bench_err_set(e, "query: out of memory for %zu queries", n);
    s->n_queries = n;
    uint64_t seed = (uint64_t)bench_params_int(p, "seed");
    /* A seed of its own: the corpus's seed would replay the corpus's text stream. The
     * words then differ from the synthetic vocabulary's frequent ones, but token counts are
     * exact either way, and that is what the latency depends on. */
    if (bench_textgen_new(lore_embedder_tokenizer(lore_pipeline_embedder(s->pl)),
                          seed ^ QUERY_STREAM, &g, e) != 0)
        return -1;
    /* Chunk queries spread evenly: query i is one when floor((i+1)*share) steps up. */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool chunk = (size_t)((double)(i + 1) * share) > (size_t)((double)i * share);
        if (chunk) {
            rc = chunk_query(s, g, &s->texts[i], &s->lens[i], &s->expect[i], e);
            if (rc == 0 && s->expect[i] != 0) {
                s->n_chunk_queries++;
                continue;
            }
        }
        if (rc == 0 && !(s->texts[i] = bench_textgen_text(g, tokens, &s->lens[i], e)))
            rc = -1;
        if (rc == 0 && s->lens[i] > 0 && s->texts[i][s->lens[i] - 1] == '.')
            s->texts[i][s->lens[i] - 1] = '?'; /* a question; still one token */
    }
    bench_textgen_free(g);
    return rc;
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "query: out of memory");
    fill_params(p, s);
    if (s->pp.chunk.overlap >= s->pp.chunk.size) {
        bench_err_set(e, "query: chunk_overlap %zu must be below chunk_size %zu",
                      s->pp.chunk.overlap, s->pp.chunk.size);
        goto fail;
    }
    if (ensure_store(p, s, e) != 0 || make_queries(p, s, e) != 0)
        goto fail;
    /* The settings' strings live as long as the embedder, which a cold point closes now. */
    lore_embedder_get_settings(lore_pipeline_embedder(s->pl), &s->settings);
    snprintf(s->tier_name, sizeof s->tier_name, "%s", s->settings.shape.name);
    snprintf(s->model_id, sizeof s->model_id, "%s", s->settings.shape.model_id);
    snprintf(s->kernel_isa, sizeof s->kernel_isa, "%s", s->settings.kernel_isa);
    s->settings.shape.name = s->tier_name;
    s->settings.shape.model_id = s->model_id;
    s->settings.kernel_isa = s->kernel_isa;
    s->have_settings = true;
    if (s->cold) {
        /* Every operation opens its own; the setup's was only for checks and queries. */
        lore_pipeline_close(s->pl);
        s->pl = NULL;
    }
    *out = s;
    return 0;
fail:
    teardown(s);
    return -1;
}

/* ---- operations ----------------------------------------------------------------- */

static void account(state *s, size_t qi)
{
    for (int i = 0; i < LORE_QUERY_N_STAGES; i++)
        s->stage_ns[i] += s->res.stage_ns[i];
    s->n_cached += s->res.embed_cached;
    s->n_hits += (int64_t)s->res.n_hits;
    for (size_t i = 0; i < s->res.n_hits; i++)
        s->n_verified += s->res.hits[i].verified;
    if (s->expect[qi] != 0) {
        s->n_self_asked++;
        s->n_self_hit += s->res.n_hits > 0 && s->res.hits[0].chunk_id == s->expect[qi];
    }
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    size_t qi = s->cursor;
    s->cursor = (s->cursor + 1) % s->n_queries;
    int64_t t0 = bench_clock_ns(), t1 = t0, t2;
    if (s->cold) {
        lore_pipeline_open_info info;
        if (lore_pipeline_open(s->store_path, &s->pp, &s->pl, &info) != LORE_OK)
            return bench_err_set(e, "query: open %s: %s", s->store_path, lore_last_error());
        s->n_index_loaded += info.index_loaded;
        t1 = bench_clock_ns();
    }
    lore_status st = lore_pipeline_query(s->pl, s->texts[qi], s->lens[qi], &s->qp, &s->res);
    t2 = bench_clock_ns();
    char msg[512] = "";
    if (st != LORE_OK)
        snprintf(msg, sizeof msg, "%s", lore_last_error());
    if (s->cold) {
        lore_pipeline_close(s->pl);
        s->pl = NULL;
    }
    int64_t t3 = bench_clock_ns();
    if (st != LORE_OK)
        return bench_err_set(e, "query: %s", msg);
    s->n_ops++;
    s->op_ns += t3 - t0;
    s->open_ns += t1 - t0;
    s->close_ns += t3 - t2;
    account(s, qi);
    return 0;
}

static double items_per_op(const void *opaque)
{
    (void)opaque;
    return 1.0;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    const state *s = opaque;
    if (s->n_ops == 0 || s->op_ns <= 0)
        return 0;
    double ops = (double)s->n_ops, op_ns = (double)s->op_ns;
    int rc = bench_metric_add(out, "qps", m->items_per_s, "queries/s", BENCH_BETTER_HIGHER);
    double staged = 0;
    for (int i = 0; i < LORE_QUERY_N_STAGES; i++) {
        const char *name = lore_query_stage_name((lore_query_stage)i);
        char key[64];
        snprintf(key, sizeof key, "%s_ms", name);
        rc |= bench_metric_add(out, key, (double)s->stage_ns[i] / ops * 1e-6, "ms",
                               BENCH_BETTER_LOWER);
        snprintf(key, sizeof key, "%s_fraction", name);
        rc |= bench_metric_add(out, key, (double)s->stage_ns[i] / op_ns, "ratio of op time",
                               BENCH_BETTER_NONE);
        staged += (double)s->stage_ns[i];
    }
    if (s->cold) {
        rc |= bench_metric_add(out, "open_ms", (double)s->open_ns / ops * 1e-6, "ms",
                               BENCH_BETTER_LOWER);
        rc |= bench_metric_add(out, "open_fraction", (double)s->open_ns / op_ns, "ratio of op time",
                               BENCH_BETTER_NONE);
        rc |= bench_metric_add(out, "close_ms", (double)s->close_ns / ops * 1e-6, "ms",
                               BENCH_BETTER_LOWER);
        rc |= bench_metric_add(out, "close_fraction", (double)s->close_ns / op_ns,
                               "ratio of op time", BENCH_BETTER_NONE);
        rc |= bench_metric_add(out, "index_loaded_rate", (double)s->n_index_loaded / ops, "ratio",
                               BENCH_BETTER_HIGHER);
        staged += (double)(s->open_ns + s->close_ns);
    }
    rc |=
        bench_metric_add(out, "other_ms", (op_ns - staged) / ops * 1e-6, "ms", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "other_fraction", (op_ns - staged) / op_ns, "ratio of op time",
                           BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "cache_hit_rate", (double)s->n_cached / ops, "ratio",
                           BENCH_BETTER_HIGHER);
    rc |=
        bench_metric_add(out, "hits_per_query", (double)s->n_hits / ops, "hits", BENCH_BETTER_NONE);
    /* How many hits the NLI model judged, as the engine reports it (not as asked). */
    rc |= bench_metric_add(out, "verified_per_query", (double)s->n_verified / ops, "hits",
                           BENCH_BETTER_NONE);
    if (s->n_self_asked > 0)
        rc |=
            bench_metric_add(out, "self_hit_rate", (double)s->n_self_hit / (double)s->n_self_asked,
                             "ratio", BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "n_chunks", (double)s->info.n_chunks, "chunks", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "n_docs", (double)s->info.n_documents, "documents",
                           BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "n_queries", (double)s->n_queries, "queries", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "chunk_queries", (double)s->n_chunk_queries, "queries",
                           BENCH_BETTER_NONE);
    struct stat st;
    if (stat(s->store_path, &st) == 0)
        rc |= bench_metric_add(out, "store_bytes", (double)st.st_size, "bytes", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "synthetic_weights", s->settings.synthetic_weights ? 1 : 0, "bool",
                           BENCH_BETTER_NONE);
    return rc ? -1 : 0;
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    char index[160], queries[200], rerank[PATH_CAP + 128];
    const lore_index_params *ip = &s->pp.index;
    switch (ip->kind) {
    case LORE_INDEX_IVF:
        snprintf(index, sizeof index, "ivf: %d lists, %d probes", ip->n_lists,
                 s->qp.search.n_probes);
        break;
    case LORE_INDEX_HNSW:
        snprintf(index, sizeof index, "hnsw: M %d, ef_construction %d, ef_search %d%s", ip->M,
                 ip->ef_construction, s->qp.search.ef_search,
                 s->qp.search.ef_search ? "" : " (engine default)");
        break;
    case LORE_INDEX_FLAT:
        snprintf(index, sizeof index, "flat (exact)");
        break;
    }
    snprintf(queries, sizeof queries,
             "%zu distinct texts cycled: %zu synthetic questions, %zu exact chunk texts",
             s->n_queries, s->n_queries - s->n_chunk_queries, s->n_chunk_queries);
    if (s->qp.rerank == LORE_RERANK_NONE)
        snprintf(rerank, sizeof rerank, "none");
    else
        snprintf(rerank, sizeof rerank,
                 "%s, rerank_depth %d (verified_per_query: hits the engine judged), by %s",
                 s->qp.rerank == LORE_RERANK_VERIFY ? "verify" : "nli re-rank", s->qp.rerank_depth,
                 s->pp.nli_model.model_dir ? s->pp.nli_model.model_dir
                                           : "synthetic weights of the NLI tier");
    const char *mode =
        s->cold ? "cold: lore_pipeline_open (embedder and NLI model created, index snapshot "
                  "loaded) + first query + close per op; a fresh process pays this plus dynamic "
                  "loading; the database file is in the page cache"
                : "warm: one lore_pipeline_query on a pipeline opened in setup";
    if (s->have_settings && bench_encoder_labels(&s->settings, out) != 0)
        return -1;
    bool ok =
        cJSON_AddStringToObject(out, "tier", s->settings.shape.name) &&
        cJSON_AddStringToObject(out, "index", index) &&
        cJSON_AddStringToObject(out, "mode", mode) &&
        cJSON_AddStringToObject(out, "store", s->store_label) &&
        cJSON_AddStringToObject(out, "store_key", s->key_text) &&
        cJSON_AddStringToObject(out, "queries", queries) &&
        cJSON_AddStringToObject(out, "rerank", rerank) &&
        cJSON_AddStringToObject(out, "query_cache", s->pp.embed.cache_bytes ? "4 MiB" : "off");
    return ok ? 0 : -1;
}

const bench_workload bench_workload_query = {
    .name = "query",
    .description = "end-to-end query latency (embed, search, fetch, optional NLI) on a cached "
                   "store of a synthetic corpus, warm or cold",
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
