/*
 * pipeline.c - the pipeline handle: parameters and their defaults, open and
 * close, and the index's persistence in the store.
 *
 * Open brings the parts up in dependency order (store, embedder, NLI model,
 * index) and then makes the index agree with the store: the snapshot
 * "<tier>/<kind>" is loaded when it was saved at the store's current content
 * generation and was built with the parameters asked for now (kind, metric,
 * dim, n_lists, M, ef_construction); otherwise the index is rebuilt from the
 * tier's stored embeddings (never by embedding again) and, when the store is
 * writable, saved at once (best effort) so the next open loads it.
 *
 * IVF with fewer stored vectors than n_lists cannot be trained: the index is
 * then left empty and untrained, open and ingest succeed (the documents are
 * stored), and a query fails with LORE_ESTATE saying how many vectors there
 * are and how many are needed. The first ingest that brings enough trains it.
 *
 * A rebuild reads the embeddings in pages, so memory stays bounded by the
 * index itself plus, for IVF, a training sample of at most
 * n_lists * max_train_per_list vectors (a reservoir sample over all of them).
 */
#include "core/lore_int.h"
#include "pipeline/pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Embeddings read per page when rebuilding. */
#define REBUILD_PAGE_ROWS 1024
/* Largest embed batch accepted: bounds the per-call chunk queue. */
#define MAX_EMBED_BATCH (1 << 20)

lore_pipeline_params lore_pipeline_default_params(void)
{
    lore_pipeline_params p;
    memset(&p, 0, sizeof p);
    p.store = lore_store_default_params();
    p.embed = lore_embedder_default_params();
    p.embed.cache_bytes = (size_t)4 << 20;
    p.chunk = lore_chunker_default_params();
    p.index = lore_index_default_params(LORE_INDEX_FLAT, 0);
    p.rows_per_txn = 1024;
    p.embed_batch = 256;
    p.max_file_bytes = (size_t)64 << 20;
    p.utf8 = LORE_UTF8_REPLACE;
    p.nli = false;
    p.nli_model = lore_nli_default_params();
    p.shared_embedder = NULL;
    p.shared_nli = NULL;
    return p;
}

lore_query_params lore_query_default_params(void)
{
    lore_query_params q;
    memset(&q, 0, sizeof q);
    q.k = 5;
    q.search = lore_search_default_params();
    q.rerank = LORE_RERANK_NONE;
    q.rerank_depth = 10;
    return q;
}

const char *lore_ingest_stage_name(lore_ingest_stage s)
{
    static const char *const names[LORE_INGEST_N_STAGES] = {"read",  "chunk", "tokenize",
                                                            "embed", "store", "index"};
    return (unsigned)s < LORE_INGEST_N_STAGES ? names[s] : "unknown";
}

const char *lore_query_stage_name(lore_query_stage s)
{
    static const char *const names[LORE_QUERY_N_STAGES] = {"embed", "search", "fetch", "verify"};
    return (unsigned)s < LORE_QUERY_N_STAGES ? names[s] : "unknown";
}

static lore_status check_params(const lore_pipeline_params *p)
{
    if (p->rows_per_txn < 0)
        return lore__fail(LORE_EINVAL, "pipeline params: rows_per_txn must be >= 0 (got %d)",
                          p->rows_per_txn);
    if (p->embed_batch < 1 || p->embed_batch > MAX_EMBED_BATCH)
        return lore__fail(LORE_EINVAL, "pipeline params: embed_batch must be 1..%d (got %d)",
                          MAX_EMBED_BATCH, p->embed_batch);
    if (p->max_file_bytes < 1)
        return lore__fail(LORE_EINVAL, "pipeline params: max_file_bytes must be >= 1 (got 0)");
    if (p->utf8 != LORE_UTF8_STRICT && p->utf8 != LORE_UTF8_REPLACE)
        return lore__fail(LORE_EINVAL, "pipeline params: unknown utf8 policy %d", (int)p->utf8);
    if ((unsigned)p->index.kind > LORE_INDEX_HNSW)
        return lore__fail(LORE_EINVAL, "pipeline params: unknown index kind %d",
                          (int)p->index.kind);
    return LORE_OK;
}

/* Finds the NLI label called name (case-insensitive); -1 when absent. */
static int find_label(const lore_nli *m, const char *name)
{
    int n = lore_nli_n_labels(m);
    for (int i = 0; i < n; i++) {
        const char *l = lore_nli_label(m, i);
        if (l && strcasecmp(l, name) == 0)
            return i;
    }
    return -1;
}

static lore_status setup_nli(lore_pipeline *p)
{
    static const char *const want[3] = {"entailment", "neutral", "contradiction"};
    int *slot[3] = {&p->nli_entail, &p->nli_neutral, &p->nli_contra};
    for (int j = 0; j < 3; j++) {
        *slot[j] = find_label(p->nli, want[j]);
        if (*slot[j] < 0)
            return lore__fail(LORE_EUNSUPPORTED,
                              "pipeline: the NLI model has no '%s' label (it has %d labels, "
                              "the first '%s')",
                              want[j], lore_nli_n_labels(p->nli),
                              lore_nli_label(p->nli, 0) ? lore_nli_label(p->nli, 0) : "");
    }
    return LORE_OK;
}

/* The chunker validates its params at every split: prove them once, here. */
static lore_status check_chunker(lore_pipeline *p)
{
    if (p->p.chunk.unit == LORE_CHUNK_TOKENS)
        p->p.chunk.tokenizer = lore_embedder_tokenizer(p->embedder);
    else
        p->p.chunk.tokenizer = NULL;
    lore_chunk_list l = {0};
    lore_status s = lore_chunker_split(&p->p.chunk, "x", 1, &l);
    lore_chunk_list_free(&l);
    if (s != LORE_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", lore_last_error());
        return lore__fail(s, "pipeline params.chunk: %s", why);
    }
    return LORE_OK;
}

/* ---- the index from the store ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Pages through the tier's embeddings, adding every one to ix. */
static lore_status add_all_from_store(lore_pipeline *p, lore_index *ix, int64_t *ids, float *vecs,
                                      int64_t *n_added)
{
    int64_t after = 0;
    for (;;) {
        size_t got = 0;
        lore_status s = lore_store_get_embeddings(p->store, p->tier, p->dim, after,
                                                  REBUILD_PAGE_ROWS, ids, vecs, &got);
        if (s != LORE_OK)
            return s;
        if (got == 0)
            return LORE_OK;
        if ((s = lore_index_add(ix, vecs, ids, got)) != LORE_OK)
            return s;
        *n_added += (int64_t)got;
        after = ids[got - 1];
    }
}

/*
 * IVF: one pass keeps a reservoir sample (and, while everything fits in it,
 * every vector), trains on it, then adds either the kept vectors or, when
 * there were more, everything again in a second pass.
 */
static lore_status build_ivf(lore_pipeline *p, lore_index *ix, int64_t n_count, int64_t *ids,
                             float *vecs, int64_t *n_added)
{
    const size_t dim = (size_t)p->dim;
    int64_t cap64 = (int64_t)p->index_p.n_lists * (int64_t)p->index_p.max_train_per_list;
    size_t cap = (size_t)(n_count < cap64 ? n_count : cap64);
    if (cap < (size_t)p->index_p.n_lists)
        cap = (size_t)p->index_p.n_lists;
    float *sample = malloc(cap * dim * sizeof *sample);
    int64_t *sample_ids = malloc(cap * sizeof *sample_ids);
    lore_status s = LORE_OK;
    if (!sample || !sample_ids) {
        s = lore__fail(LORE_ENOMEM,
                       "pipeline: out of memory for an IVF training sample of %zu x %zu", cap, dim);
        goto done;
    }
    uint64_t rng = p->index_p.seed ^ 0x5eedull;
    size_t seen = 0;
    int64_t after = 0;
    for (;;) {
        size_t got = 0;
        s = lore_store_get_embeddings(p->store, p->tier, p->dim, after, REBUILD_PAGE_ROWS, ids,
                                      vecs, &got);
        if (s != LORE_OK || got == 0)
            break;
        for (size_t i = 0; i < got; i++, seen++) {
            size_t slot = seen < cap ? seen : (size_t)(splitmix64(&rng) % (seen + 1));
            if (slot < cap) {
                memcpy(sample + slot * dim, vecs + i * dim, dim * sizeof *sample);
                sample_ids[slot] = ids[i];
            }
        }
        after = ids[got - 1];
    }
    if (s != LORE_OK)
        goto done;
    if (seen < (size_t)p->index_p.n_lists)
        goto done; /* rows vanished since the count: stays untrained */
    size_t n_train = seen < cap ? seen : cap;
    if ((s = lore_index_train(ix, sample, n_train)) != LORE_OK)
        goto done;
    if (seen <= cap) {
        /* Everything is in the sample, in id order (no slot was replaced). */
        if ((s = lore_index_add(ix, sample, sample_ids, seen)) == LORE_OK)
            *n_added += (int64_t)seen;
    } else {
        s = add_all_from_store(p, ix, ids, vecs, n_added);
    }
done:
    free(sample);
    free(sample_ids);
    return s;
}

lore_status lore__pipeline_rebuild(lore_pipeline *p, int64_t *n_added)
{
    int64_t gen = 0, n = 0, added = 0;
    int dim = 0;
    lore_index *ix = NULL;
    int64_t *ids = NULL;
    float *vecs = NULL;
    if (n_added)
        *n_added = 0;
    /* The generation first: a write racing the reads below leaves the index stamped older
     * than the store, which the next check sees as stale. */
    lore_status s = lore_store_generation(p->store, &gen);
    if (s == LORE_OK)
        s = lore_store_count_embeddings(p->store, p->tier, &n, &dim);
    if (s != LORE_OK)
        return s;
    if (n > 0 && dim != p->dim)
        return lore__fail(LORE_ECORRUPT,
                          "pipeline: the store's embeddings of tier '%s' have dim %d, the "
                          "embedder makes %d",
                          p->tier, dim, p->dim);
    if ((s = lore_index_new(&p->index_p, &ix)) != LORE_OK)
        return s;
    ids = malloc(REBUILD_PAGE_ROWS * sizeof *ids);
    vecs = malloc((size_t)REBUILD_PAGE_ROWS * (size_t)p->dim * sizeof *vecs);
    if (!ids || !vecs) {
        s = lore__fail(LORE_ENOMEM, "pipeline: out of memory for a rebuild page");
        goto done;
    }
    if (p->index_p.kind == LORE_INDEX_IVF) {
        if (n >= p->index_p.n_lists)
            s = build_ivf(p, ix, n, ids, vecs, &added);
    } else {
        s = add_all_from_store(p, ix, ids, vecs, &added);
    }
    if (s != LORE_OK)
        goto done;
    lore_index_free(p->index);
    p->index = ix;
    ix = NULL;
    p->index_gen = gen;
    p->index_stale = false;
    p->snapshot_saved = false;
    p->n_stored = n > added ? n : added;
    if (n_added)
        *n_added = added;
done:
    lore_index_free(ix);
    free(ids);
    free(vecs);
    return s;
}

/* ---- snapshots --------------------------------------------------------------------- */

static lore_status count_write(void *ctx, const void *buf, size_t n)
{
    (void)buf;
    *(size_t *)ctx += n;
    return LORE_OK;
}

static lore_status produce_snapshot(void *ctx, const lore_writer *w)
{
    return lore_index_save((const lore_index *)ctx, w);
}

lore_status lore__pipeline_save(lore_pipeline *p)
{
    if (p->snapshot_saved || p->index_stale || p->p.store.read_only)
        return LORE_OK;
    /* The store streams the snapshot into a BLOB of a size fixed up front: count it first. */
    size_t size = 0;
    lore_writer counter = {count_write, &size};
    lore_status s = lore_index_save(p->index, &counter);
    if (s == LORE_OK)
        s = lore_store_put_snapshot(p->store, p->snapshot_name, p->index_gen, size,
                                    produce_snapshot, p->index);
    if (s == LORE_OK)
        p->snapshot_saved = true;
    return s;
}

typedef struct load_ctx {
    int64_t want_gen;
    lore_index *ix;
} load_ctx;

static lore_status consume_snapshot(void *ctx, const lore_reader *r, size_t size_bytes,
                                    int64_t generation)
{
    load_ctx *c = ctx;
    (void)size_bytes;
    if (generation != c->want_gen)
        return LORE_OK; /* stale: not worth reading */
    lore_status s = lore_index_load(r, &c->ix);
    /* A damaged snapshot is only a cache of the embeddings: rebuild instead. */
    return s == LORE_ECORRUPT ? LORE_OK : s;
}

/* The loaded index was built with the parameters asked for now. */
static bool same_build(const lore_index_params *a, const lore_index_params *b)
{
    if (a->kind != b->kind || a->metric != b->metric || a->dim != b->dim)
        return false;
    if (a->kind == LORE_INDEX_IVF && a->n_lists != b->n_lists)
        return false;
    if (a->kind == LORE_INDEX_HNSW && (a->M != b->M || a->ef_construction != b->ef_construction))
        return false;
    return true;
}

/* Loads the current snapshot into p->index; *loaded false when there is none usable. */
static lore_status load_snapshot(lore_pipeline *p, bool *loaded)
{
    *loaded = false;
    load_ctx c = {0, NULL};
    bool found = false;
    lore_status s = lore_store_generation(p->store, &c.want_gen);
    if (s == LORE_OK)
        s = lore_store_get_snapshot(p->store, p->snapshot_name, consume_snapshot, &c, &found);
    if (s != LORE_OK) {
        lore_index_free(c.ix);
        return s;
    }
    if (!c.ix)
        return LORE_OK;
    if (!same_build(lore_index_params_of(c.ix), &p->index_p)) {
        lore_index_free(c.ix);
        return LORE_OK;
    }
    lore_index_free(p->index);
    p->index = c.ix;
    p->index_gen = c.want_gen;
    p->index_stale = false;
    p->snapshot_saved = true;
    p->n_stored = (int64_t)lore_index_size(c.ix);
    *loaded = true;
    return LORE_OK;
}

/* ---- open and close ------------------------------------------------------------------ */

lore_status lore_pipeline_open(const char *path, const lore_pipeline_params *params,
                               lore_pipeline **out, lore_pipeline_open_info *info)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_pipeline_open: out is NULL");
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (!path)
        return lore__fail(LORE_EINVAL, "lore_pipeline_open: path is NULL");
    lore_pipeline_params prm = params ? *params : lore_pipeline_default_params();
    lore_status s = check_params(&prm);
    if (s != LORE_OK)
        return s;
    lore_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return lore__fail(LORE_ENOMEM, "lore_pipeline_open: out of memory");
    p->p = prm;
    /* The model strings are the caller's and only needed now. */
    p->p.embed.tier = p->p.embed.model_dir = NULL;
    p->p.nli_model.tier = p->p.nli_model.model_dir = NULL;
    p->p.shared_embedder = NULL;
    p->p.shared_nli = NULL;

    if (!(p->db_path = strdup(path))) {
        s = lore__fail(LORE_ENOMEM, "lore_pipeline_open: out of memory");
        goto fail;
    }
    if ((s = lore_store_open(path, &prm.store, &p->store)) != LORE_OK)
        goto fail;
    if (prm.shared_embedder) {
        p->embedder = prm.shared_embedder;
    } else {
        if ((s = lore_embedder_new(&prm.embed, &p->embedder)) != LORE_OK)
            goto fail;
        p->own_embedder = true;
    }
    p->dim = lore_embedder_dim(p->embedder);
    lore_encoder_settings es;
    lore_embedder_get_settings(p->embedder, &es);
    const char *tier = es.shape.name ? es.shape.name : "";
    if (tier[0] == '\0' || strlen(tier) >= sizeof p->tier) {
        s = lore__fail(LORE_EINVAL,
                       "pipeline: the embedder's tier name '%.40s' is empty or "
                       "longer than %d bytes",
                       tier, LORE__PIPE_TIER_MAX - 1);
        goto fail;
    }
    memcpy(p->tier, tier, strlen(tier) + 1);
    if ((s = check_chunker(p)) != LORE_OK)
        goto fail;

    if (prm.shared_nli) {
        p->nli = prm.shared_nli;
    } else if (prm.nli) {
        if ((s = lore_nli_new(&prm.nli_model, &p->nli)) != LORE_OK)
            goto fail;
        p->own_nli = true;
    }
    if (p->nli && (s = setup_nli(p)) != LORE_OK)
        goto fail;

    p->index_p = prm.index;
    p->index_p.dim = p->dim;
    if ((s = lore_index_new(&p->index_p, &p->index)) != LORE_OK)
        goto fail;
    snprintf(p->snapshot_name, sizeof p->snapshot_name, "%s/%s", p->tier,
             lore_index_kind_name(p->index_p.kind));

    bool loaded = false;
    if ((s = load_snapshot(p, &loaded)) != LORE_OK)
        goto fail;
    if (!loaded) {
        if ((s = lore__pipeline_rebuild(p, NULL)) != LORE_OK)
            goto fail;
        /* Best effort: a locked or full database only means the next open rebuilds too. */
        (void)lore__pipeline_save(p);
    }
    if (info) {
        lore_store_info si;
        if ((s = lore_store_get_info(p->store, &si)) != LORE_OK)
            goto fail;
        info->index_loaded = loaded;
        info->index_rebuilt = !loaded;
        info->n_vectors = (int64_t)lore_index_size(p->index);
        info->n_documents = si.n_documents;
        info->n_chunks = si.n_chunks;
    }
    *out = p;
    return LORE_OK;
fail:
    lore_pipeline_close(p);
    if (info)
        memset(info, 0, sizeof *info);
    return s;
}

void lore_pipeline_close(lore_pipeline *p)
{
    if (!p)
        return;
    lore_index_free(p->index);
    if (p->own_nli)
        lore_nli_free(p->nli);
    if (p->own_embedder)
        lore_embedder_free(p->embedder);
    lore_store_close(p->store);
    free(p->db_path);
    free(p);
}

lore_store *lore_pipeline_store(lore_pipeline *p)
{
    return p ? p->store : NULL;
}

lore_embedder *lore_pipeline_embedder(lore_pipeline *p)
{
    return p ? p->embedder : NULL;
}

const lore_index *lore_pipeline_index(const lore_pipeline *p)
{
    return p ? p->index : NULL;
}

lore_nli *lore_pipeline_nli(lore_pipeline *p)
{
    return p ? p->nli : NULL;
}
