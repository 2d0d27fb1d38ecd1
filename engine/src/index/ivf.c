/*
 * ivf.c - the IVF-Flat index: k-means centroids (kmeans.c) partition the
 * vectors into n_lists inverted lists; a query scores all centroids, scans
 * the n_probes nearest lists in full, and keeps the k best.
 *
 * Layout: each list holds its vectors contiguously (cap rows of dim floats)
 * with their ids beside them (cap int64s), so a probe is one streaming
 * ip_many / l2_many over memory. Lists grow geometrically; an add reserves
 * room in every list it touches before it copies anything, so a failed add
 * leaves the index as it was.
 *
 * Invariants: the lists' sizes sum to ix->n; centroids (and, for L2, their
 * squared norms) are set once trained; for IP they have unit length.
 *
 * Searches may run concurrently: each takes a scratch set (centroid scores,
 * probe keeper, scan buffer, result keeper) from a mutex-protected free list
 * and returns it; a set is allocated only when all are in use, or grown when
 * k exceeds what it was sized for.
 *
 * Snapshot body (after index.c's header; nothing when untrained):
 *   n_lists * dim f32   centroids
 *   per list, in order:
 *     u64                size
 *     size * dim f32     vectors
 *     size i64           ids
 * The sizes must sum to the header's n.
 */
#include "core/lore_int.h"
#include "index/index_int.h"
#include "index/kmeans.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Vectors scored per ip_many / l2_many call in a list scan: 4 KiB of scores stay in L1. */
#define LORE__IVF_SCAN_CHUNK 1024
/* First capacity of a list that receives vectors. */
#define LORE__IVF_MIN_LIST_CAP 16
/* Rows read per step while loading a list: memory follows the bytes actually present. */
#define LORE__IVF_LOAD_CHUNK_ROWS 4096

typedef struct ivf_list {
    float *vec;   /* cap * dim */
    int64_t *ids; /* cap */
    size_t n, cap;
} ivf_list;

typedef struct ivf_scratch {
    struct ivf_scratch *next;
    float *cscore; /* n_lists: the query's centroid scores */
    float *pscore; /* n_lists: probe keeper */
    int64_t *pid;  /* n_lists */
    float *buf;    /* LORE__IVF_SCAN_CHUNK list scores */
    int kcap;      /* result keeper slots */
    float *kscore; /* kcap */
    int64_t *kid;  /* kcap */
} ivf_scratch;

typedef struct ivf {
    float *centroids; /* n_lists * dim, NULL until trained */
    float *c_norm2;   /* n_lists */
    ivf_list *lists;  /* n_lists */
    pthread_mutex_t lock;
    ivf_scratch *free_scratch;
    size_t scratch_bytes; /* of every scratch set allocated, for memory_bytes */
} ivf;

static size_t row_bytes(const lore_index *ix)
{
    return (size_t)ix->p.dim * sizeof(float) + sizeof(int64_t);
}

/* ---- scratch pool ------------------------------------------------------------------ */

static void scratch_free(ivf_scratch *sc)
{
    if (!sc)
        return;
    free(sc->cscore);
    free(sc->pscore);
    free(sc->pid);
    free(sc->buf);
    free(sc->kscore);
    free(sc->kid);
    free(sc);
}

/* A scratch set with room for k results, from the free list or new. */
static lore_status scratch_get(const lore_index *ix, int k, ivf_scratch **out)
{
    ivf *v = ix->impl;
    size_t nl = (size_t)ix->p.n_lists;
    pthread_mutex_lock(&v->lock);
    ivf_scratch *sc = v->free_scratch;
    if (sc)
        v->free_scratch = sc->next;
    pthread_mutex_unlock(&v->lock);
    size_t added = 0;
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc)
            goto oom;
        sc->cscore = malloc(nl * sizeof *sc->cscore);
        sc->pscore = malloc(nl * sizeof *sc->pscore);
        sc->pid = malloc(nl * sizeof *sc->pid);
        sc->buf = malloc(LORE__IVF_SCAN_CHUNK * sizeof *sc->buf);
        if (!sc->cscore || !sc->pscore || !sc->pid || !sc->buf)
            goto oom;
        added += sizeof *sc + nl * (2 * sizeof(float) + sizeof(int64_t)) +
                 LORE__IVF_SCAN_CHUNK * sizeof(float);
    }
    if (sc->kcap < k) {
        /* Rare: a larger k than this set has served so far. */
        float *ks = realloc(sc->kscore, (size_t)k * sizeof *ks);
        if (ks)
            sc->kscore = ks;
        int64_t *ki = realloc(sc->kid, (size_t)k * sizeof *ki);
        if (ki)
            sc->kid = ki;
        if (!ks || !ki)
            goto oom;
        added += (size_t)(k - sc->kcap) * (sizeof(float) + sizeof(int64_t));
        sc->kcap = k;
    }
    if (added) {
        pthread_mutex_lock(&v->lock);
        v->scratch_bytes += added;
        pthread_mutex_unlock(&v->lock);
    }
    *out = sc;
    return LORE_OK;
oom:
    if (sc && sc->kcap > 0) {
        /* A pooled set that could not grow: still good for smaller k. */
        pthread_mutex_lock(&v->lock);
        sc->next = v->free_scratch;
        v->free_scratch = sc;
        pthread_mutex_unlock(&v->lock);
    } else {
        scratch_free(sc);
    }
    return lore__fail(LORE_ENOMEM, "ivf search: out of memory for scratch (k %d, %zu lists)", k,
                      nl);
}

static void scratch_put(const lore_index *ix, ivf_scratch *sc)
{
    ivf *v = ix->impl;
    pthread_mutex_lock(&v->lock);
    sc->next = v->free_scratch;
    v->free_scratch = sc;
    pthread_mutex_unlock(&v->lock);
}

/* ---- life cycle -------------------------------------------------------------------- */

static lore_status ivf_init(lore_index *ix)
{
    ivf *v = calloc(1, sizeof *v);
    if (!v)
        return lore__fail(LORE_ENOMEM, "ivf: out of memory");
    v->lists = calloc((size_t)ix->p.n_lists, sizeof *v->lists);
    if (!v->lists) {
        free(v);
        return lore__fail(LORE_ENOMEM, "ivf: out of memory for %d lists", ix->p.n_lists);
    }
    if (pthread_mutex_init(&v->lock, NULL) != 0) {
        free(v->lists);
        free(v);
        return lore__fail(LORE_ENOMEM, "ivf: cannot create the scratch pool's mutex");
    }
    ix->impl = v;
    return LORE_OK;
}

static void free_lists(ivf *v, int n_lists)
{
    for (int j = 0; j < n_lists; j++) {
        free(v->lists[j].vec);
        free(v->lists[j].ids);
        v->lists[j] = (ivf_list){0};
    }
}

static void ivf_destroy(lore_index *ix)
{
    ivf *v = ix->impl;
    if (!v)
        return;
    free_lists(v, ix->p.n_lists);
    free(v->lists);
    free(v->centroids);
    free(v->c_norm2);
    while (v->free_scratch) {
        ivf_scratch *next = v->free_scratch->next;
        scratch_free(v->free_scratch);
        v->free_scratch = next;
    }
    pthread_mutex_destroy(&v->lock);
    free(v);
    ix->impl = NULL;
}

static void set_norms(const lore_index *ix, ivf *v)
{
    size_t dim = (size_t)ix->p.dim;
    for (int j = 0; j < ix->p.n_lists; j++)
        v->c_norm2[j] =
            ix->dk->ip(v->centroids + (size_t)j * dim, v->centroids + (size_t)j * dim, dim);
}

/* Fresh centroid arrays for n_lists x dim, replacing any old ones only on success. */
static lore_status alloc_centroids(const lore_index *ix, float **c, float **norm2)
{
    *c = malloc((size_t)ix->p.n_lists * (size_t)ix->p.dim * sizeof **c);
    *norm2 = malloc((size_t)ix->p.n_lists * sizeof **norm2);
    if (!*c || !*norm2) {
        free(*c);
        free(*norm2);
        *c = *norm2 = NULL;
        return lore__fail(LORE_ENOMEM, "ivf: out of memory for %d x %d centroids", ix->p.n_lists,
                          ix->p.dim);
    }
    return LORE_OK;
}

static lore_status ivf_train(lore_index *ix, const float *x, size_t n)
{
    ivf *v = ix->impl;
    assert(ix->n == 0 && n >= (size_t)ix->p.n_lists);
    float *c, *norm2;
    lore_status s = alloc_centroids(ix, &c, &norm2);
    if (s != LORE_OK)
        return s;
    lore__kmeans_params kp = {.dim = ix->p.dim,
                              .k = ix->p.n_lists,
                              .iters = ix->p.kmeans_iters,
                              .max_per_centroid = ix->p.max_train_per_list,
                              .seed = ix->p.seed,
                              .metric = ix->p.metric,
                              .dk = ix->dk};
    if ((s = lore__kmeans(x, n, &kp, c, NULL)) != LORE_OK) {
        free(c);
        free(norm2);
        return s;
    }
    /* Retraining an empty index: its lists (empty, perhaps with capacity) start over. */
    free_lists(v, ix->p.n_lists);
    free(v->centroids);
    free(v->c_norm2);
    v->centroids = c;
    v->c_norm2 = norm2;
    set_norms(ix, v);
    return LORE_OK;
}

/* Makes room for extra more rows in list l (geometric growth). */
static lore_status list_reserve(const lore_index *ix, ivf_list *l, size_t extra)
{
    size_t need = l->n + extra;
    if (need <= l->cap)
        return LORE_OK;
    size_t cap = l->cap ? l->cap : LORE__IVF_MIN_LIST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > SIZE_MAX / row_bytes(ix))
        return lore__fail(LORE_ENOMEM, "ivf: a list of %zu vectors is too large", need);
    float *vec = realloc(l->vec, cap * (size_t)ix->p.dim * sizeof *vec);
    if (vec)
        l->vec = vec;
    int64_t *ids = realloc(l->ids, cap * sizeof *ids);
    if (ids)
        l->ids = ids;
    if (!vec || !ids)
        return lore__fail(LORE_ENOMEM, "ivf: out of memory growing a list to %zu vectors", cap);
    l->cap = cap;
    return LORE_OK;
}

static lore_status ivf_add(lore_index *ix, const float *x, const int64_t *ids, size_t n)
{
    ivf *v = ix->impl;
    assert(v->centroids && n > 0);
    const int nl = ix->p.n_lists;
    const size_t dim = (size_t)ix->p.dim;
    lore_status s = LORE_OK;
    int32_t *label = malloc(n * sizeof *label);
    size_t *per_list = calloc((size_t)nl, sizeof *per_list);
    if (!label || !per_list) {
        s = lore__fail(LORE_ENOMEM, "ivf add: out of memory for %zu labels", n);
        goto done;
    }
    s = lore__kmeans_assign(x, n, ix->p.dim, v->centroids, v->c_norm2, nl, ix->p.metric, label,
                            NULL);
    if (s != LORE_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        per_list[label[i]]++;
    /* Room everywhere first, so a failure changes no list's contents. */
    for (int j = 0; j < nl && s == LORE_OK; j++)
        if (per_list[j])
            s = list_reserve(ix, &v->lists[j], per_list[j]);
    if (s != LORE_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        ivf_list *l = &v->lists[label[i]];
        memcpy(l->vec + l->n * dim, x + i * dim, dim * sizeof *x);
        l->ids[l->n] = ids ? ids[i] : (int64_t)(ix->n + i);
        l->n++;
    }
done:
    free(per_list);
    free(label);
    return s;
}

/* ---- search ------------------------------------------------------------------------ */

static lore_status ivf_search_one(const lore_index *ix, const float *q, int k,
                                  const lore_search_params *sp, float *scores, int64_t *ids)
{
    const ivf *v = ix->impl;
    const int nl = ix->p.n_lists, n_probes = sp->n_probes;
    const size_t dim = (size_t)ix->p.dim;
    const bool l2 = ix->p.metric == LORE_METRIC_L2;
    assert(v->centroids && k >= 1 && n_probes >= 1 && n_probes <= nl);
    ivf_scratch *sc = NULL;
    lore_status s = scratch_get(ix, k, &sc);
    if (s != LORE_OK)
        return s;

    /* The n_probes nearest centroids (larger is better: L2 distances negated). */
    if (l2) {
        ix->dk->l2_many(q, v->centroids, (size_t)nl, dim, sc->cscore);
        for (int j = 0; j < nl; j++)
            sc->cscore[j] = -sc->cscore[j];
    } else {
        ix->dk->ip_many(q, v->centroids, (size_t)nl, dim, sc->cscore);
    }
    lore__topk probes;
    lore__topk_init(&probes, n_probes, sc->pscore, sc->pid);
    lore__topk_push_many(&probes, sc->cscore, NULL, 0, (size_t)nl);

    /* Scan them; the keeper's order does not matter, every probed vector is scored. */
    lore__topk best;
    lore__topk_init(&best, k, sc->kscore, sc->kid);
    size_t scanned = 0;
    for (int p = 0; p < probes.n; p++) {
        const ivf_list *l = &v->lists[probes.id[p]];
        for (size_t i0 = 0; i0 < l->n; i0 += LORE__IVF_SCAN_CHUNK) {
            size_t nb = l->n - i0 < LORE__IVF_SCAN_CHUNK ? l->n - i0 : LORE__IVF_SCAN_CHUNK;
            const float *xb = l->vec + i0 * dim;
            if (l2) {
                ix->dk->l2_many(q, xb, nb, dim, sc->buf);
                for (size_t i = 0; i < nb; i++)
                    sc->buf[i] = -sc->buf[i];
            } else {
                ix->dk->ip_many(q, xb, nb, dim, sc->buf);
            }
            lore__topk_push_many(&best, sc->buf, l->ids + i0, 0, nb);
        }
        scanned += l->n;
    }
    lore__topk_finish(&best, l2, scores, ids);
    scratch_put(ix, sc);
    lore__index_count_distances(ix, (int64_t)nl + (int64_t)scanned);
    lore__index_count_lists(ix, n_probes);
    return LORE_OK;
}

/* ---- accounting and snapshots ------------------------------------------------------ */

static size_t ivf_memory_bytes(const lore_index *ix)
{
    ivf *v = ix->impl;
    size_t nl = (size_t)ix->p.n_lists, bytes = sizeof *v + nl * sizeof *v->lists;
    if (v->centroids)
        bytes += nl * ((size_t)ix->p.dim + 1) * sizeof(float);
    for (size_t j = 0; j < nl; j++)
        bytes += v->lists[j].cap * row_bytes(ix);
    pthread_mutex_lock(&v->lock);
    bytes += v->scratch_bytes;
    pthread_mutex_unlock(&v->lock);
    return bytes;
}

static lore_status ivf_save(const lore_index *ix, lore__snap_writer *w)
{
    const ivf *v = ix->impl;
    if (!ix->trained)
        return LORE_OK;
    const size_t dim = (size_t)ix->p.dim;
    lore_status s =
        lore__snap_put(w, v->centroids, (size_t)ix->p.n_lists * dim * sizeof *v->centroids);
    for (int j = 0; j < ix->p.n_lists && s == LORE_OK; j++) {
        const ivf_list *l = &v->lists[j];
        s = lore__snap_put_u64(w, (uint64_t)l->n);
        if (s == LORE_OK)
            s = lore__snap_put(w, l->vec, l->n * dim * sizeof *l->vec);
        if (s == LORE_OK)
            s = lore__snap_put(w, l->ids, l->n * sizeof *l->ids);
    }
    return s;
}

/*
 * Reads size rows of list l. Room grows with what has been read, so a damaged size in a
 * short stream ends in LORE_ECORRUPT at the end of the data rather than in a huge allocation.
 */
static lore_status load_list(const lore_index *ix, lore__snap_reader *r, ivf_list *l, size_t size)
{
    const size_t dim = (size_t)ix->p.dim;
    lore_status s = LORE_OK;
    while (s == LORE_OK && l->n < size) {
        size_t nb =
            size - l->n < LORE__IVF_LOAD_CHUNK_ROWS ? size - l->n : LORE__IVF_LOAD_CHUNK_ROWS;
        if ((s = list_reserve(ix, l, nb)) != LORE_OK)
            break;
        s = lore__snap_get(r, l->vec + l->n * dim, nb * dim * sizeof *l->vec);
        if (s == LORE_OK)
            l->n += nb;
    }
    if (s == LORE_OK)
        s = lore__snap_get(r, l->ids, size * sizeof *l->ids);
    if (s == LORE_OK && size > 0 && l->cap > size) {
        /* Give back the growth slack: a loaded index is usually searched, not added to. */
        float *vec = realloc(l->vec, size * dim * sizeof *vec);
        if (vec) {
            l->vec = vec;
            /* A failed shrink of the ids leaves them the larger block, which is still fine. */
            int64_t *ids = realloc(l->ids, size * sizeof *ids);
            if (ids)
                l->ids = ids;
            l->cap = size;
        }
    }
    return s;
}

static lore_status ivf_load(lore_index *ix, lore__snap_reader *r)
{
    ivf *v = ix->impl;
    if (!ix->trained) {
        if (ix->n != 0)
            return lore__fail(LORE_ECORRUPT, "snapshot: untrained ivf index claims %zu vectors",
                              ix->n);
        return LORE_OK;
    }
    lore_status s = alloc_centroids(ix, &v->centroids, &v->c_norm2);
    if (s != LORE_OK)
        return s;
    s = lore__snap_get(r, v->centroids,
                       (size_t)ix->p.n_lists * (size_t)ix->p.dim * sizeof *v->centroids);
    if (s != LORE_OK)
        return s;
    set_norms(ix, v);
    size_t left = ix->n;
    for (int j = 0; j < ix->p.n_lists; j++) {
        char what[48];
        snprintf(what, sizeof what, "ivf list %d size", j);
        uint64_t size;
        if ((s = lore__snap_get_count(r, left, what, &size)) != LORE_OK)
            return s;
        if ((s = load_list(ix, r, &v->lists[j], (size_t)size)) != LORE_OK)
            return s;
        left -= (size_t)size;
    }
    if (left != 0)
        return lore__fail(LORE_ECORRUPT,
                          "snapshot: ivf lists hold %zu vectors, the header says %zu", ix->n - left,
                          ix->n);
    return LORE_OK;
}

const lore__index_ops lore__ivf_ops = {
    .init = ivf_init,
    .destroy = ivf_destroy,
    .train = ivf_train,
    .add = ivf_add,
    .search_one = ivf_search_one,
    .search_batch = NULL,
    .memory_bytes = ivf_memory_bytes,
    .save = ivf_save,
    .load = ivf_load,
};
