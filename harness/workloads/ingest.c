/*
 * ingest.c - workload: the ingest pipeline end to end. One operation opens a
 * pipeline on a fresh database file, ingests a folder of documents (read ->
 * chunk -> tokenize + embed -> store -> index, the index snapshot saved) and
 * closes it; one item is one document, so the throughput is documents/s.
 *
 * Setup (not timed): the embedder is created once and shared with every
 * operation's pipeline (lore_pipeline_params.shared_embedder), because making
 * synthetic weights takes longer than many ingests; its embedding cache is off,
 * so no operation is served vectors an earlier one computed. A synthetic
 * corpus (corpus.h) is written as files into a fresh temporary folder, so the
 * read stage reads real files (from the page cache after the first
 * operation); source=folder ingests the given folder instead.
 *
 * The database lives in a temporary folder (or db_dir); every operation first
 * deletes the previous operation's database (main file, -wal, -shm), so each
 * ingest starts from an empty store and every document is added.
 *
 * Stage times come from the lore_ingest_report of each operation and are
 * averaged over every operation since setup (warm-up included); fractions are
 * of the whole operation as this workload times it (delete + open + ingest +
 * close), so other_fraction is what no stage covers: deleting the old file,
 * opening the store, creating the index, closing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "lore/lore.h"
#include "measure/clock.h"
#include "workload.h"
#include "workloads/encoder_common.h"

static const char *const source_choices[] = {"synthetic", "folder", NULL};
static const char *const tier_choices[] = {"minilm-l3", "minilm-l6", "minilm-l12",
                                           "bge-small", "bge-base",  NULL};
static const char *const unit_choices[] = {"chars", "tokens", NULL};
static const char *const index_choices[] = {"flat", "ivf", "hnsw", NULL};
static const char *const sync_choices[] = {"off", "normal", "full", NULL};

static const bench_param_spec params[] = {
    {"source", BENCH_PARAM_STRING, "synthetic", 0, 0, source_choices, "",
     "synthetic: a seeded corpus written to a temporary folder; folder: the folder named by "
     "`folder`"},
    {"folder", BENCH_PARAM_STRING, "", 0, 0, NULL, "", "source=folder: the folder to ingest"},
    {"n_docs", BENCH_PARAM_INT, "200", 1, 1e7, NULL, "documents", "synthetic: documents"},
    {"doc_bytes", BENCH_PARAM_INT, "4000", 16, 1 << 26, NULL, "bytes",
     "synthetic: median document size"},
    {"doc_sigma", BENCH_PARAM_FLOAT, "0.5", 0, 4, NULL, "",
     "synthetic: log-normal shape of document sizes (0: all doc_bytes)"},
    {"seed", BENCH_PARAM_INT, "1", 0, 1e15, NULL, "", "seed of the weights and the corpus"},
    {"tier", BENCH_PARAM_STRING, "minilm-l6", 0, 0, tier_choices, "",
     "embedding model tier; synthetic weights unless model_dir is set"},
    {"model_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "Hugging Face model folder to load instead of synthetic weights"},
    {"threads", BENCH_PARAM_INT, "1", 1, 64, NULL, "threads", "threads the embedder uses"},
    {"worker_mode", BENCH_PARAM_STRING, "workers", 0, 0, bench_thread_mode_choices, "",
     "blas: one forward pass on `threads` BLAS threads; workers: `threads` workers, 1 BLAS "
     "thread each"},
    {"batch_size", BENCH_PARAM_INT, "32", 1, 4096, NULL, "chunks",
     "chunks per forward pass of the encoder"},
    {"embed_batch", BENCH_PARAM_INT, "256", 1, 1 << 20, NULL, "chunks",
     "chunks gathered across documents per embed call"},
    {"rows_per_txn", BENCH_PARAM_INT, "1024", 0, 1e9, NULL, "rows",
     "chunk rows per transaction, rounded up to whole documents; 0: all in one"},
    {"sync", BENCH_PARAM_STRING, "normal", 0, 0, sync_choices, "",
     "SQLite synchronous mode (WAL): off, normal (default), full (fsync at every commit)"},
    {"chunk_size", BENCH_PARAM_INT, "500", 1, 1 << 20, NULL, "units", "chunk window"},
    {"chunk_overlap", BENCH_PARAM_INT, "60", 0, 1 << 20, NULL, "units",
     "units shared by neighbouring chunks (< chunk_size)"},
    {"chunk_unit", BENCH_PARAM_STRING, "chars", 0, 0, unit_choices, "",
     "chars: Unicode characters; tokens: the embedder's word pieces"},
    {"kind", BENCH_PARAM_STRING, "flat", 0, 0, index_choices, "", "vector index kind"},
    {"lists", BENCH_PARAM_INT, "100", 1, 1 << 24, NULL, "lists", "ivf: k-means lists"},
    {"M", BENCH_PARAM_INT, "16", 2, 1024, NULL, "links", "hnsw: links per node"},
    {"ef_construction", BENCH_PARAM_INT, "200", 1, 1 << 20, NULL, "",
     "hnsw: candidate list while building"},
    {"db_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "folder for the database file; empty: the temporary folder (under $TMPDIR or /tmp)"},
};

typedef struct state {
    lore_embedder *emb;
    lore_encoder_settings settings;
    lore_pipeline_params pp;
    char tmp_dir[512]; /* made by mkdtemp; removed at teardown */
    char docs_dir[4096];
    size_t n_docs_written; /* files doc-NNNNNN.txt written into docs_dir by setup */
    char db_path[4096];
    char corpus_label[600];
    /* Sums over every operation since setup. */
    uint64_t n_ops;
    int64_t op_ns, open_ns, close_ns, ingest_ns, stage_ns[LORE_INGEST_N_STAGES];
    int64_t n_docs, n_chunks, n_tokens, n_bytes, n_transactions, n_skipped;
    int64_t last_docs; /* documents added by the last operation */
} state;

static void remove_db(const state *s)
{
    char path[4096 + 8];
    unlink(s->db_path);
    snprintf(path, sizeof path, "%s-wal", s->db_path);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", s->db_path);
    unlink(path);
}

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    if (s->db_path[0])
        remove_db(s);
    for (size_t i = 0; i < s->n_docs_written; i++) {
        char path[4096 + 32];
        snprintf(path, sizeof path, "%s/doc-%06zu.txt", s->docs_dir, i);
        unlink(path);
    }
    if (s->n_docs_written > 0)
        rmdir(s->docs_dir);
    if (s->tmp_dir[0])
        rmdir(s->tmp_dir);
    lore_embedder_free(s->emb);
    free(s);
}

static lore_index_kind kind_of(const char *s)
{
    return strcmp(s, "ivf") == 0    ? LORE_INDEX_IVF
           : strcmp(s, "hnsw") == 0 ? LORE_INDEX_HNSW
                                    : LORE_INDEX_FLAT;
}

static int make_embedder(const bench_params *p, state *s, bench_err *e)
{
    lore_encoder_params ep = lore_embedder_default_params();
    const char *dir = bench_params_string(p, "model_dir");
    ep.tier = bench_params_string(p, "tier");
    ep.model_dir = dir[0] ? dir : NULL;
    ep.seed = (uint64_t)bench_params_int(p, "seed");
    ep.batch_size = (int)bench_params_int(p, "batch_size");
    ep.n_threads = (int)bench_params_int(p, "threads");
    ep.thread_mode = strcmp(bench_params_string(p, "worker_mode"), "workers") == 0
                         ? LORE_THREADS_WORKERS
                         : LORE_THREADS_BLAS;
    /* No cache: a later operation must not be served vectors an earlier one made. */
    ep.cache_bytes = 0;
    if (lore_embedder_new(&ep, &s->emb) != LORE_OK)
        return bench_err_set(e, "ingest: embedder: %s", lore_last_error());
    lore_embedder_get_settings(s->emb, &s->settings);
    return 0;
}

static int make_corpus(const bench_params *p, state *s, bench_err *e)
{
    if (strcmp(bench_params_string(p, "source"), "folder") == 0) {
        const char *folder = bench_params_string(p, "folder");
        struct stat st;
        if (!folder[0])
            return bench_err_set(e, "ingest: source=folder needs folder=PATH");
        if (stat(folder, &st) != 0)
            return bench_err_set(e, "ingest: folder %s: %s", folder, strerror(errno));
        snprintf(s->docs_dir, sizeof s->docs_dir, "%s", folder);
        snprintf(s->corpus_label, sizeof s->corpus_label, "folder %s", folder);
        return 0;
    }
    bench_corpus_params cp = {
        .n_docs = (size_t)bench_params_int(p, "n_docs"),
        .doc_bytes = (size_t)bench_params_int(p, "doc_bytes"),
        .sigma = bench_params_float(p, "doc_sigma"),
        .seed = (uint64_t)bench_params_int(p, "seed"),
    };
    lore_doc_text *docs = NULL;
    if (bench_corpus_make(&cp, lore_embedder_tokenizer(s->emb), &docs, e) != 0)
        return -1;
    size_t total = 0;
    for (size_t i = 0; i < cp.n_docs; i++)
        total += docs[i].len;
    snprintf(s->docs_dir, sizeof s->docs_dir, "%s/docs", s->tmp_dir);
    /* Count the files before writing: teardown removes whatever part was written. */
    s->n_docs_written = cp.n_docs;
    int rc = bench_corpus_write_dir(docs, cp.n_docs, s->docs_dir, e);
    bench_corpus_free(docs, cp.n_docs);
    snprintf(s->corpus_label, sizeof s->corpus_label,
             "synthetic: %zu documents, %zu bytes in all, sizes log-normal (median %zu bytes, "
             "sigma %g), seed %llu, written to a temporary folder",
             cp.n_docs, total, cp.doc_bytes, cp.sigma, (unsigned long long)cp.seed);
    return rc;
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "ingest: out of memory");
    const char *tmp = getenv("TMPDIR");
    snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/lore-bench-ingest-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(s->tmp_dir)) {
        bench_err_set(e, "ingest: cannot create a temporary folder %s: %s", s->tmp_dir,
                      strerror(errno));
        s->tmp_dir[0] = '\0';
        goto fail;
    }
    if (make_embedder(p, s, e) != 0 || make_corpus(p, s, e) != 0)
        goto fail;

    const char *db_dir = bench_params_string(p, "db_dir");
    if (db_dir[0])
        snprintf(s->db_path, sizeof s->db_path, "%s/lore-bench-ingest-%ld.sqlite", db_dir,
                 (long)getpid());
    else
        snprintf(s->db_path, sizeof s->db_path, "%s/ingest.sqlite", s->tmp_dir);

    lore_pipeline_params *pp = &s->pp;
    *pp = lore_pipeline_default_params();
    pp->shared_embedder = s->emb;
    pp->embed_batch = (int)bench_params_int(p, "embed_batch");
    pp->rows_per_txn = (int)bench_params_int(p, "rows_per_txn");
    const char *sync = bench_params_string(p, "sync");
    pp->store.synchronous = strcmp(sync, "off") == 0    ? LORE_STORE_SYNC_OFF
                            : strcmp(sync, "full") == 0 ? LORE_STORE_SYNC_FULL
                                                        : LORE_STORE_SYNC_NORMAL;
    pp->chunk.unit = strcmp(bench_params_string(p, "chunk_unit"), "tokens") == 0 ? LORE_CHUNK_TOKENS
                                                                                 : LORE_CHUNK_CHARS;
    pp->chunk.size = (size_t)bench_params_int(p, "chunk_size");
    pp->chunk.overlap = (size_t)bench_params_int(p, "chunk_overlap");
    if (pp->chunk.overlap >= pp->chunk.size) {
        bench_err_set(e, "ingest: chunk_overlap %zu must be below chunk_size %zu",
                      pp->chunk.overlap, pp->chunk.size);
        goto fail;
    }
    pp->index = lore_index_default_params(kind_of(bench_params_string(p, "kind")), s->settings.dim);
    pp->index.seed = (uint64_t)bench_params_int(p, "seed");
    pp->index.n_lists = (int)bench_params_int(p, "lists");
    pp->index.M = (int)bench_params_int(p, "M");
    pp->index.ef_construction = (int)bench_params_int(p, "ef_construction");
    *out = s;
    return 0;
fail:
    teardown(s);
    return -1;
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    int64_t t0 = bench_clock_ns();
    remove_db(s);
    lore_pipeline *pl = NULL;
    if (lore_pipeline_open(s->db_path, &s->pp, &pl, NULL) != LORE_OK)
        return bench_err_set(e, "ingest: open %s: %s", s->db_path, lore_last_error());
    int64_t t_opened = bench_clock_ns();
    lore_ingest_report r;
    memset(&r, 0, sizeof r);
    const char *paths[] = {s->docs_dir};
    lore_status st = lore_pipeline_ingest_paths(pl, paths, 1, NULL, NULL, &r);
    char msg[512] = "";
    if (st != LORE_OK)
        snprintf(msg, sizeof msg, "%s", lore_last_error());
    int64_t t_ingested = bench_clock_ns();
    lore_pipeline_close(pl);
    int64_t t1 = bench_clock_ns();
    int rc = 0;
    if (st != LORE_OK) {
        rc = bench_err_set(e, "ingest: %s: %s", s->docs_dir, msg);
    } else if (r.n_added == 0) {
        rc = bench_err_set(e, "ingest: %s: no document was added (%lld skipped%s%s)", s->docs_dir,
                           (long long)r.n_skipped, r.n_skipped > 0 ? ", first: " : "",
                           r.n_skipped > 0 ? r.skips[0].reason : "");
    } else if (s->n_docs_written > 0 && r.n_added != (int64_t)s->n_docs_written) {
        rc = bench_err_set(e, "ingest: %lld of %zu synthetic documents added (%lld skipped)",
                           (long long)r.n_added, s->n_docs_written, (long long)r.n_skipped);
    } else {
        s->n_ops++;
        s->op_ns += t1 - t0;
        s->open_ns += t_opened - t0;
        s->close_ns += t1 - t_ingested;
        s->ingest_ns += r.wall_ns;
        for (int i = 0; i < LORE_INGEST_N_STAGES; i++)
            s->stage_ns[i] += r.stage_ns[i];
        s->n_docs += r.n_added;
        s->n_chunks += r.n_chunks;
        s->n_tokens += r.n_tokens;
        s->n_bytes += r.n_bytes;
        s->n_transactions += r.n_transactions;
        s->n_skipped += r.n_skipped;
        s->last_docs = r.n_added;
    }
    lore_ingest_report_free(&r);
    return rc;
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return (double)s->last_docs;
}

/* Bytes of the database the last operation left (main file and any WAL). */
static int64_t db_bytes(const state *s)
{
    struct stat st;
    int64_t n = 0;
    char wal[4096 + 8];
    if (stat(s->db_path, &st) == 0)
        n += st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", s->db_path);
    if (stat(wal, &st) == 0)
        n += st.st_size;
    return n;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    const state *s = opaque;
    if (s->n_ops == 0 || s->op_ns <= 0)
        return 0;
    double ops = (double)s->n_ops, op_ns = (double)s->op_ns;
    double per_s = m->ops_per_s / ops; /* a per-op mean times ops/s: a rate */
    int rc = bench_metric_add(out, "docs_per_s", m->items_per_s, "docs/s", BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "chunks_per_s", (double)s->n_chunks * per_s, "chunks/s",
                           BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "text_mb_per_s", (double)s->n_bytes * per_s / 1e6, "MB/s",
                           BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "tokens_per_s", (double)s->n_tokens * per_s, "tokens/s",
                           BENCH_BETTER_HIGHER);
    double staged = 0;
    for (int i = 0; i < LORE_INGEST_N_STAGES; i++) {
        const char *name = lore_ingest_stage_name((lore_ingest_stage)i);
        char key[64];
        snprintf(key, sizeof key, "%s_s", name);
        rc |= bench_metric_add(out, key, (double)s->stage_ns[i] / ops * 1e-9, "s",
                               BENCH_BETTER_LOWER);
        snprintf(key, sizeof key, "%s_fraction", name);
        rc |= bench_metric_add(out, key, (double)s->stage_ns[i] / op_ns, "ratio of op time",
                               BENCH_BETTER_NONE);
        staged += (double)s->stage_ns[i];
    }
    rc |= bench_metric_add(out, "other_s", (op_ns - staged) / ops * 1e-9, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "other_fraction", (op_ns - staged) / op_ns, "ratio of op time",
                           BENCH_BETTER_LOWER);
    /* The bar: with a real-sized model, everything but embedding under 10%. */
    /* Most of "other": deleting the old files and opening (schema, index) / closing. */
    rc |= bench_metric_add(out, "open_s", (double)s->open_ns / ops * 1e-9, "s", BENCH_BETTER_LOWER);
    rc |=
        bench_metric_add(out, "close_s", (double)s->close_ns / ops * 1e-9, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "non_embed_fraction",
                           1.0 - (double)s->stage_ns[LORE_INGEST_EMBED] / op_ns, "ratio of op time",
                           BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "ingest_call_fraction", (double)s->ingest_ns / op_ns,
                           "ratio of op time", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "op_s", op_ns / ops * 1e-9, "s", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "docs", (double)s->n_docs / ops, "count", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "chunks", (double)s->n_chunks / ops, "count", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "text_bytes", (double)s->n_bytes / ops, "bytes", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "skipped", (double)s->n_skipped / ops, "count", BENCH_BETTER_NONE);
    rc |= bench_metric_add(out, "transactions", (double)s->n_transactions / ops, "count",
                           BENCH_BETTER_NONE);
    if (s->n_chunks > 0)
        rc |= bench_metric_add(out, "tokens_per_chunk", (double)s->n_tokens / (double)s->n_chunks,
                               "tokens", BENCH_BETTER_NONE);
    int64_t bytes = db_bytes(s);
    rc |= bench_metric_add(out, "db_bytes", (double)bytes, "bytes", BENCH_BETTER_LOWER);
    if (s->n_chunks > 0)
        rc |=
            bench_metric_add(out, "db_bytes_per_chunk", (double)bytes / ((double)s->n_chunks / ops),
                             "bytes", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "synthetic_weights", s->settings.synthetic_weights ? 1 : 0, "bool",
                           BENCH_BETTER_NONE);
    return rc ? -1 : 0;
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    char chunking[128];
    snprintf(chunking, sizeof chunking, "%zu %s, overlap %zu", s->pp.chunk.size,
             s->pp.chunk.unit == LORE_CHUNK_TOKENS ? "tokens" : "characters", s->pp.chunk.overlap);
    if (bench_encoder_labels(&s->settings, out) != 0)
        return -1;
    bool ok = cJSON_AddStringToObject(out, "tier", s->settings.shape.name) &&
              cJSON_AddStringToObject(out, "index", lore_index_kind_name(s->pp.index.kind)) &&
              cJSON_AddStringToObject(out, "corpus", s->corpus_label) &&
              cJSON_AddStringToObject(out, "chunking", chunking) &&
              cJSON_AddStringToObject(
                  out, "stages",
                  "per-stage times from each op's lore_ingest_report, mean over every op since "
                  "setup (warm-up included); fractions are of the whole op: delete the old "
                  "database, open a pipeline (shared embedder), ingest the folder, close") &&
              cJSON_AddStringToObject(out, "embed_cache", "off (shared embedder, no cache)");
    return ok ? 0 : -1;
}

const bench_workload bench_workload_ingest = {
    .name = "ingest",
    .description = "ingest a folder of documents into a fresh store (read, chunk, embed, store, "
                   "index): documents/s and the per-stage breakdown",
    .item_unit = "document",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .labels = labels,
    .teardown = teardown,
};
