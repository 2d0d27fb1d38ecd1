/*
 * index.c - the public index API: parameter and state validation, dispatch
 * to the kind (flat.c, ivf.c, hnsw.c), stats, and the snapshot frame.
 *
 * Snapshot layout (little-endian, fixed width):
 *   offset  size  field
 *   0       8     magic "LOREIDX\0"
 *   8       4     format version (1)
 *   12      4     kind (0 flat, 1 ivf, 2 hnsw)
 *   16      4     metric (0 ip, 1 l2)
 *   20      4     dim
 *   24      8     n, vectors held
 *   32      8     seed
 *   40      4 x 6 flat_gemm_min_queries, n_lists, kmeans_iters, max_train_per_list,
 *                 M, ef_construction
 *   64      4     trained (0 or 1)
 *   68      ...   the kind's body (its own save/load)
 *   end-8   8     XXH3-64 of every byte before it
 * A reader rejects a wrong magic, an unknown version, parameters that would
 * not pass lore_index_new, a body that disagrees with n, a checksum mismatch
 * and (for files) trailing bytes.
 */
#include "core/lore_int.h"
#include "index/index_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAPSHOT_MAGIC "LOREIDX"
#define SNAPSHOT_VERSION 1u
#define MAX_DIM 65536
#define MAX_LISTS (1 << 24)
#define MAX_KMEANS_ITERS 10000
#define MAX_TRAIN_PER_LIST 1000000
#define MAX_M 1024
#define MAX_EF (1 << 20)
#define DEFAULT_EF_SEARCH 16

lore_index_params lore_index_default_params(lore_index_kind kind, int dim)
{
    lore_index_params p = {0};
    p.kind = kind;
    p.metric = LORE_METRIC_IP;
    p.dim = dim;
    p.seed = 42;
    p.flat_gemm_min_queries = 4;
    p.n_lists = 100;
    p.kmeans_iters = 20;
    p.max_train_per_list = 256;
    p.M = 16;
    p.ef_construction = 200;
    return p;
}

lore_search_params lore_search_default_params(void)
{
    return (lore_search_params){.n_probes = 1, .ef_search = 0};
}

const char *lore_index_kind_name(lore_index_kind kind)
{
    static const char *const names[] = {"flat", "ivf", "hnsw"};
    return (unsigned)kind < 3 ? names[kind] : "unknown";
}

const char *lore_metric_name(lore_metric metric)
{
    static const char *const names[] = {"ip", "l2"};
    return (unsigned)metric < 2 ? names[metric] : "unknown";
}

static const lore__index_ops *ops_for(lore_index_kind kind)
{
    switch (kind) {
    case LORE_INDEX_FLAT:
        return &lore__flat_ops;
    case LORE_INDEX_IVF:
        return &lore__ivf_ops;
    case LORE_INDEX_HNSW:
        return &lore__hnsw_ops;
    }
    return NULL;
}

static lore_status check_range(const char *field, long long v, long long lo, long long hi)
{
    if (v < lo || v > hi)
        return lore__fail(LORE_EINVAL, "index params: %s must be in %lld..%lld (got %lld)", field,
                          lo, hi, v);
    return LORE_OK;
}

static lore_status check_params(const lore_index_params *p)
{
    if (!ops_for(p->kind))
        return lore__fail(LORE_EINVAL, "index params: unknown kind %d", (int)p->kind);
    if ((unsigned)p->metric > LORE_METRIC_L2)
        return lore__fail(LORE_EINVAL, "index params: unknown metric %d", (int)p->metric);
    lore_status s = check_range("dim", p->dim, 1, MAX_DIM);
    if (s == LORE_OK)
        s = check_range("flat_gemm_min_queries", p->flat_gemm_min_queries, 1, INT32_MAX);
    if (s == LORE_OK && p->kind == LORE_INDEX_IVF) {
        s = check_range("n_lists", p->n_lists, 1, MAX_LISTS);
        if (s == LORE_OK)
            s = check_range("kmeans_iters", p->kmeans_iters, 1, MAX_KMEANS_ITERS);
        if (s == LORE_OK)
            s = check_range("max_train_per_list", p->max_train_per_list, 1, MAX_TRAIN_PER_LIST);
    }
    if (s == LORE_OK && p->kind == LORE_INDEX_HNSW) {
        s = check_range("M", p->M, 2, MAX_M);
        if (s == LORE_OK)
            s = check_range("ef_construction", p->ef_construction, 1, MAX_EF);
    }
    return s;
}

lore_status lore_index_new(const lore_index_params *params, lore_index **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_index_new: out is NULL");
    *out = NULL;
    if (!params)
        return lore__fail(LORE_EINVAL, "lore_index_new: params is NULL");
    lore_status s = check_params(params);
    if (s != LORE_OK)
        return s;
    lore_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return lore__fail(LORE_ENOMEM, "lore_index_new: out of memory");
    ix->p = *params;
    ix->ops = ops_for(params->kind);
    ix->dk = lore__dist_select();
    ix->trained = ix->ops->train == NULL;
    if ((s = ix->ops->init(ix)) != LORE_OK) {
        free(ix);
        return s;
    }
    *out = ix;
    return LORE_OK;
}

void lore_index_free(lore_index *ix)
{
    if (!ix)
        return;
    ix->ops->destroy(ix);
    free(ix);
}

lore_status lore_index_train(lore_index *ix, const float *x, size_t n)
{
    if (!ix)
        return lore__fail(LORE_EINVAL, "lore_index_train: index is NULL");
    if (!ix->ops->train)
        return LORE_OK; /* nothing to learn */
    if (ix->n > 0)
        return lore__fail(LORE_ESTATE, "train: the %s index already holds %zu vectors",
                          lore_index_kind_name(ix->p.kind), ix->n);
    if (!x)
        return lore__fail(LORE_EINVAL, "train: vectors are NULL");
    if (ix->p.kind == LORE_INDEX_IVF && n < (size_t)ix->p.n_lists)
        return lore__fail(LORE_EINVAL, "train: IVF needs at least n_lists (%d) vectors (got %zu)",
                          ix->p.n_lists, n);
    lore_status s = ix->ops->train(ix, x, n);
    if (s == LORE_OK)
        ix->trained = true;
    return s;
}

bool lore_index_is_trained(const lore_index *ix)
{
    return ix->trained;
}

lore_status lore_index_add(lore_index *ix, const float *x, const int64_t *ids, size_t n)
{
    if (!ix)
        return lore__fail(LORE_EINVAL, "lore_index_add: index is NULL");
    if (!ix->trained)
        return lore__fail(LORE_ESTATE, "add: the %s index is not trained",
                          lore_index_kind_name(ix->p.kind));
    if (n == 0)
        return LORE_OK;
    if (!x)
        return lore__fail(LORE_EINVAL, "add: vectors are NULL");
    lore_status s = ix->ops->add(ix, x, ids, n);
    if (s == LORE_OK)
        ix->n += n;
    return s;
}

lore_status lore_index_search(const lore_index *ix, const float *queries, size_t nq, int k,
                              const lore_search_params *sp, float *scores, int64_t *ids)
{
    if (!ix)
        return lore__fail(LORE_EINVAL, "lore_index_search: index is NULL");
    if (k < 1)
        return lore__fail(LORE_EINVAL, "search: k must be >= 1 (got %d)", k);
    if (nq > 0 && (!queries || !scores || !ids))
        return lore__fail(LORE_EINVAL, "search: NULL queries or output array");
    if (!ix->trained)
        return lore__fail(LORE_ESTATE, "search: the %s index is not trained",
                          lore_index_kind_name(ix->p.kind));
    lore_search_params p = sp ? *sp : lore_search_default_params();
    if (ix->p.kind == LORE_INDEX_IVF && (p.n_probes < 1 || p.n_probes > ix->p.n_lists))
        return lore__fail(LORE_EINVAL, "search: n_probes must be in 1..n_lists (%d) (got %d)",
                          ix->p.n_lists, p.n_probes);
    if (ix->p.kind == LORE_INDEX_HNSW) {
        if (p.ef_search == 0)
            p.ef_search = k > DEFAULT_EF_SEARCH ? k : DEFAULT_EF_SEARCH;
        if (p.ef_search < k || p.ef_search > MAX_EF)
            return lore__fail(LORE_EINVAL, "search: ef_search must be in k (%d)..%d (got %d)", k,
                              MAX_EF, p.ef_search);
    }
    if (nq == 0)
        return LORE_OK;
    lore_status s = LORE_OK;
    if (ix->ops->search_batch) {
        s = ix->ops->search_batch(ix, queries, nq, k, &p, scores, ids);
    } else {
        size_t d = (size_t)ix->p.dim, kk = (size_t)k;
        for (size_t i = 0; i < nq && s == LORE_OK; i++)
            s = ix->ops->search_one(ix, queries + i * d, k, &p, scores + i * kk, ids + i * kk);
    }
    if (s == LORE_OK) {
        atomic_fetch_add_explicit((atomic_llong *)&ix->n_searches, (long long)nq,
                                  memory_order_relaxed);
        lore__counter_add(LORE_COUNTER_INDEX_SEARCHES, (int64_t)nq);
    }
    return s;
}

size_t lore_index_size(const lore_index *ix)
{
    return ix->n;
}

int lore_index_dim(const lore_index *ix)
{
    return ix->p.dim;
}

const lore_index_params *lore_index_params_of(const lore_index *ix)
{
    return &ix->p;
}

const char *lore_index_kernel_isa(const lore_index *ix)
{
    return ix->dk->isa;
}

size_t lore_index_memory_bytes(const lore_index *ix)
{
    return sizeof *ix + ix->ops->memory_bytes(ix);
}

void lore_index_get_stats(const lore_index *ix, lore_index_stats *out)
{
    out->n_searches = atomic_load(&ix->n_searches);
    out->n_distances = atomic_load(&ix->n_distances);
    out->n_lists_probed = atomic_load(&ix->n_lists_probed);
    out->n_hops = atomic_load(&ix->n_hops);
}

void lore_index_reset_stats(lore_index *ix)
{
    atomic_store(&ix->n_searches, 0);
    atomic_store(&ix->n_distances, 0);
    atomic_store(&ix->n_lists_probed, 0);
    atomic_store(&ix->n_hops, 0);
}

/* ---- snapshots ----------------------------------------------------------- */

static lore_status put_header(lore__snap_writer *w, const lore_index *ix)
{
    const lore_index_params *p = &ix->p;
    const uint32_t fields[] = {(uint32_t)p->flat_gemm_min_queries, (uint32_t)p->n_lists,
                               (uint32_t)p->kmeans_iters,          (uint32_t)p->max_train_per_list,
                               (uint32_t)p->M,                     (uint32_t)p->ef_construction};
    lore_status s = lore__snap_put(w, SNAPSHOT_MAGIC, sizeof SNAPSHOT_MAGIC);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, SNAPSHOT_VERSION);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, (uint32_t)p->kind);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, (uint32_t)p->metric);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, (uint32_t)p->dim);
    if (s == LORE_OK)
        s = lore__snap_put_u64(w, (uint64_t)ix->n);
    if (s == LORE_OK)
        s = lore__snap_put_u64(w, p->seed);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && s == LORE_OK; i++)
        s = lore__snap_put_u32(w, fields[i]);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, ix->trained ? 1u : 0u);
    return s;
}

lore_status lore_index_save(const lore_index *ix, const lore_writer *w)
{
    if (!ix || !w || !w->write)
        return lore__fail(LORE_EINVAL, "lore_index_save: NULL index or writer");
    XXH3_state_t *hash = XXH3_createState();
    if (!hash)
        return lore__fail(LORE_ENOMEM, "lore_index_save: out of memory");
    XXH3_64bits_reset(hash);
    lore__snap_writer sw = {w, hash};
    lore_status s = put_header(&sw, ix);
    if (s == LORE_OK)
        s = ix->ops->save(ix, &sw);
    if (s == LORE_OK) {
        /* The trailer is the checksum of everything before it, so it is not hashed itself. */
        uint64_t sum = XXH3_64bits_digest(hash);
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)(sum >> (8 * i));
        s = w->write(w->ctx, b, sizeof b);
    }
    XXH3_freeState(hash);
    return s;
}

static lore_status get_header(lore__snap_reader *r, lore_index_params *p, uint64_t *n,
                              uint32_t *trained)
{
    char magic[sizeof SNAPSHOT_MAGIC];
    uint32_t version, kind, metric, dim, fields[6];
    lore_status s = lore__snap_get(r, magic, sizeof magic);
    if (s != LORE_OK)
        return s;
    if (memcmp(magic, SNAPSHOT_MAGIC, sizeof magic) != 0)
        return lore__fail(LORE_ECORRUPT, "snapshot: not a lore index (bad magic)");
    if ((s = lore__snap_get_u32(r, &version)) != LORE_OK)
        return s;
    if (version != SNAPSHOT_VERSION)
        return lore__fail(LORE_ECORRUPT, "snapshot: format version %u; this build reads %u",
                          version, SNAPSHOT_VERSION);
    if ((s = lore__snap_get_u32(r, &kind)) != LORE_OK ||
        (s = lore__snap_get_u32(r, &metric)) != LORE_OK ||
        (s = lore__snap_get_u32(r, &dim)) != LORE_OK || (s = lore__snap_get_u64(r, n)) != LORE_OK ||
        (s = lore__snap_get_u64(r, &p->seed)) != LORE_OK)
        return s;
    for (size_t i = 0; i < 6; i++)
        if ((s = lore__snap_get_u32(r, &fields[i])) != LORE_OK)
            return s;
    if ((s = lore__snap_get_u32(r, trained)) != LORE_OK)
        return s;
    if (kind > LORE_INDEX_HNSW || metric > LORE_METRIC_L2 || dim > MAX_DIM || *trained > 1)
        return lore__fail(LORE_ECORRUPT,
                          "snapshot: header out of range (kind %u, metric %u, dim %u, trained %u)",
                          kind, metric, dim, *trained);
    p->kind = (lore_index_kind)kind;
    p->metric = (lore_metric)metric;
    p->dim = (int)dim;
    int *dst[] = {&p->flat_gemm_min_queries, &p->n_lists, &p->kmeans_iters,
                  &p->max_train_per_list,    &p->M,       &p->ef_construction};
    for (size_t i = 0; i < 6; i++) {
        if (fields[i] > INT32_MAX)
            return lore__fail(LORE_ECORRUPT, "snapshot: parameter field %zu is %u", i, fields[i]);
        *dst[i] = (int)fields[i];
    }
    return LORE_OK;
}

lore_status lore_index_load(const lore_reader *r, lore_index **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_index_load: out is NULL");
    *out = NULL;
    if (!r || !r->read)
        return lore__fail(LORE_EINVAL, "lore_index_load: reader is NULL");
    XXH3_state_t *hash = XXH3_createState();
    if (!hash)
        return lore__fail(LORE_ENOMEM, "lore_index_load: out of memory");
    XXH3_64bits_reset(hash);
    lore__snap_reader sr = {r, hash};
    lore_index_params p = {0};
    lore_index *ix = NULL;
    uint64_t n = 0;
    uint32_t trained = 0;
    lore_status s = get_header(&sr, &p, &n, &trained);
    if (s == LORE_OK && (s = lore_index_new(&p, &ix)) == LORE_EINVAL) {
        /* Parameters lore_index_new refuses mean the file is damaged, not the call. */
        char detail[512];
        snprintf(detail, sizeof detail, "%s", lore_last_error());
        s = lore__fail(LORE_ECORRUPT, "snapshot: %s", detail);
    }
    if (s == LORE_OK) {
        ix->n = (size_t)n;
        ix->trained = trained != 0;
        s = ix->ops->load(ix, &sr);
    }
    if (s == LORE_OK) {
        uint64_t want = XXH3_64bits_digest(hash), got = 0;
        unsigned char b[8];
        s = r->read(r->ctx, b, sizeof b);
        for (int i = 0; s == LORE_OK && i < 8; i++)
            got |= (uint64_t)b[i] << (8 * i);
        if (s == LORE_OK && got != want)
            s = lore__fail(LORE_ECORRUPT, "snapshot: checksum mismatch (stored %016llx, computed "
                                          "%016llx)",
                           (unsigned long long)got, (unsigned long long)want);
    }
    XXH3_freeState(hash);
    if (s != LORE_OK) {
        lore_index_free(ix);
        return s;
    }
    *out = ix;
    return LORE_OK;
}

/* ---- files --------------------------------------------------------------- */

typedef struct file_io {
    FILE *f;
    const char *path;
} file_io;

static lore_status file_write(void *ctx, const void *buf, size_t n)
{
    file_io *io = ctx;
    if (fwrite(buf, 1, n, io->f) != n)
        return lore__fail(LORE_EIO, "%s: write failed: %s", io->path, strerror(errno));
    return LORE_OK;
}

static lore_status file_read(void *ctx, void *buf, size_t n)
{
    file_io *io = ctx;
    /* lore_index_load_file puts the path in front of these. */
    if (fread(buf, 1, n, io->f) != n) {
        if (ferror(io->f))
            return lore__fail(LORE_EIO, "read failed: %s", strerror(errno));
        return lore__fail(LORE_ECORRUPT, "truncated snapshot");
    }
    return LORE_OK;
}

lore_status lore_index_save_file(const lore_index *ix, const char *path)
{
    if (!ix || !path)
        return lore__fail(LORE_EINVAL, "lore_index_save_file: NULL index or path");
    size_t len = strlen(path);
    char *tmp = malloc(len + 8);
    if (!tmp)
        return lore__fail(LORE_ENOMEM, "lore_index_save_file: out of memory");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lore_status s = lore__fail(LORE_EIO, "%s: cannot create a temporary file beside it: %s",
                                   path, strerror(errno));
        free(tmp);
        return s;
    }
    file_io io = {fdopen(fd, "wb"), path};
    lore_status s = LORE_OK;
    if (!io.f) {
        close(fd);
        s = lore__fail(LORE_EIO, "%s: %s", path, strerror(errno));
    } else {
        lore_writer w = {file_write, &io};
        s = lore_index_save(ix, &w);
        if (s == LORE_OK && (fflush(io.f) != 0 || fsync(fileno(io.f)) != 0))
            s = lore__fail(LORE_EIO, "%s: flush failed: %s", path, strerror(errno));
        if (fclose(io.f) != 0 && s == LORE_OK)
            s = lore__fail(LORE_EIO, "%s: close failed: %s", path, strerror(errno));
    }
    /* Only a complete snapshot replaces the old file. */
    if (s == LORE_OK && rename(tmp, path) != 0)
        s = lore__fail(LORE_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (s != LORE_OK)
        unlink(tmp);
    free(tmp);
    return s;
}

lore_status lore_index_load_file(const char *path, lore_index **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_index_load_file: out is NULL");
    *out = NULL;
    if (!path)
        return lore__fail(LORE_EINVAL, "lore_index_load_file: path is NULL");
    file_io io = {fopen(path, "rb"), path};
    if (!io.f)
        return lore__fail(LORE_EIO, "%s: cannot open: %s", path, strerror(errno));
    lore_reader r = {file_read, &io};
    lore_status s = lore_index_load(&r, out);
    if (s != LORE_OK) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", lore_last_error());
        s = lore__fail(s, "%s: %s", path, detail);
    } else if (fgetc(io.f) != EOF) {
        lore_index_free(*out);
        *out = NULL;
        s = lore__fail(LORE_ECORRUPT, "%s: trailing bytes after the snapshot", path);
    }
    fclose(io.f);
    return s;
}
