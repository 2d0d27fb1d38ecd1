/*
 * flat.c - the exact index: every vector is scored against every query.
 *
 * Layout: the vectors are one row-major n x dim float array (64-byte aligned, capacity grown
 * geometrically on add), with the ids beside them (n int64) and, for L2 only, the squared norms
 * (n floats) that the BLAS path needs. Slots [n, capacity) are allocated but unused.
 *
 * One query (search_one): ip_many / l2_many over FLAT_SCAN_BLOCK rows at a time into a stack
 * buffer small enough to stay in L1, then top-k push_many over it while it is hot. The keeper's
 * heap is the caller's own output arrays (k slots each), so a search needs no scratch from the
 * index and any number of threads may search at once without a lock.
 *
 * Many queries (search_batch, nq >= p.flat_gemm_min_queries): scores come from BLAS,
 * C = Q X^T, for FLAT_GEMM_QUERIES queries x FLAT_GEMM_VECTORS vectors per GEMM. The loop over
 * vector blocks is the outer one, so the index is read from memory once per batch while the
 * queries stay in cache; the nq keepers (again over the output arrays) live across blocks. For
 * L2 the GEMM gives 2 q.x and the pushed score is 2 q.x - |x|^2 = |q|^2 - |q - x|^2, so the
 * ranking needs no per-query term; |q|^2 is added after, and the result clamped at 0, which
 * cancellation can undershoot. These L2 values can differ from the scan's in the last bits
 * (near-ties may order differently); IP scores are the same dot products in another order.
 *
 * Snapshot body (after index.c's header, which holds n):
 *   8            n again (u64, must equal the header's)
 *   n * dim * 4  the vectors, raw little-endian f32, row-major
 *   n * 8        the ids, raw little-endian i64
 * L2 norms are recomputed on load. Vectors are read in chunks into a growing array, so a count
 * that lies costs a short read (LORE_ECORRUPT), not a huge allocation.
 */
#include "core/lore_int.h"
#include "index/index_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flat.c writes raw little-endian arrays: a big-endian host needs byte swaps here"
#endif

/* Rows per distance call in search_one: 512 scores are 2 KiB, which stays in L1 between the
 * distance kernel writing them and push_many reading them. */
#define FLAT_SCAN_BLOCK 512
/* GEMM block of the batch path: up to 1024 queries x 1024 vectors, a 4 MiB score block. Measured
 * on 100k x 384 with 1000 queries (OpenBLAS SkylakeX, 1 thread): query blocks of 64 / 256 / 1024
 * gave about 900 / 1150 / 1300 QPS, the vector block (1024..8192) mattered less than the noise.
 * Large query blocks let OpenBLAS reuse each packed vector panel across more queries. */
#define FLAT_GEMM_QUERIES 1024
#define FLAT_GEMM_VECTORS 1024
/* First capacity, and vectors read per chunk when loading a snapshot. */
#define FLAT_MIN_CAPACITY 64
#define FLAT_LOAD_CHUNK 65536

typedef struct flat_impl {
    float *x;     /* capacity x dim, 64-byte aligned */
    int64_t *ids; /* capacity */
    float *norms; /* capacity, |x|^2; L2 only (NULL for IP) */
    size_t capacity;
    size_t max_vectors; /* the most that size_t byte counts can address */
} flat_impl;

static size_t round_up64(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, round_up64(bytes ? bytes : 1));
}

static bool is_l2(const lore_index *ix)
{
    return ix->p.metric == LORE_METRIC_L2;
}

static lore_status flat_init(lore_index *ix)
{
    flat_impl *f = calloc(1, sizeof *f);
    if (!f)
        return lore__fail(LORE_ENOMEM, "flat index: out of memory");
    /* Keep capacity * dim * 4 (rounded up to 64) and capacity * 8 far from SIZE_MAX. */
    f->max_vectors = (SIZE_MAX / 4 - 64) / ((size_t)ix->p.dim * sizeof(float));
    ix->impl = f;
    return LORE_OK;
}

static void flat_destroy(lore_index *ix)
{
    flat_impl *f = ix->impl;
    if (!f)
        return;
    free(f->x);
    free(f->ids);
    free(f->norms);
    free(f);
    ix->impl = NULL;
}

/* Reallocates to exactly cap slots, keeping the first keep. All or nothing. */
static lore_status reserve(lore_index *ix, size_t keep, size_t cap)
{
    flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim;
    assert(keep <= cap && cap <= f->max_vectors);
    float *x = alloc64(cap * d * sizeof *x);
    int64_t *ids = alloc64(cap * sizeof *ids);
    float *norms = is_l2(ix) ? alloc64(cap * sizeof *norms) : NULL;
    if (!x || !ids || (is_l2(ix) && !norms)) {
        free(x);
        free(ids);
        free(norms);
        return lore__fail(LORE_ENOMEM, "flat index: out of memory for %zu vectors of dim %zu", cap,
                          d);
    }
    if (keep > 0) {
        memcpy(x, f->x, keep * d * sizeof *x);
        memcpy(ids, f->ids, keep * sizeof *ids);
        if (norms)
            memcpy(norms, f->norms, keep * sizeof *norms);
    }
    free(f->x);
    free(f->ids);
    free(f->norms);
    f->x = x;
    f->ids = ids;
    f->norms = norms;
    f->capacity = cap;
    return LORE_OK;
}

/* Room for need vectors, the n held kept: doubling, so n adds of one vector copy O(n). */
static lore_status grow(lore_index *ix, size_t n, size_t need)
{
    flat_impl *f = ix->impl;
    if (need <= f->capacity)
        return LORE_OK;
    if (need > f->max_vectors)
        return lore__fail(LORE_ENOMEM, "flat index: %zu vectors of dim %d cannot be addressed",
                          need, ix->p.dim);
    size_t cap = f->capacity < FLAT_MIN_CAPACITY ? FLAT_MIN_CAPACITY : f->capacity;
    while (cap < need)
        cap = cap > f->max_vectors / 2 ? f->max_vectors : cap * 2;
    return reserve(ix, n, cap);
}

static void compute_norms(const lore_index *ix, size_t from, size_t to)
{
    flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim;
    for (size_t i = from; i < to; i++)
        f->norms[i] = ix->dk->ip(f->x + i * d, f->x + i * d, d);
}

static lore_status flat_add(lore_index *ix, const float *x, const int64_t *ids, size_t n)
{
    flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim, have = ix->n;
    if (n > f->max_vectors - have)
        return lore__fail(LORE_ENOMEM,
                          "flat index: %zu + %zu vectors of dim %zu cannot be "
                          "addressed",
                          have, n, d);
    lore_status s = grow(ix, have, have + n);
    if (s != LORE_OK)
        return s;
    memcpy(f->x + have * d, x, n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        f->ids[have + i] = ids ? ids[i] : (int64_t)(have + i);
    if (is_l2(ix))
        compute_norms(ix, have, have + n);
    return LORE_OK;
}

static lore_status flat_search_one(const lore_index *ix, const float *q, int k,
                                   const lore_search_params *sp, float *scores, int64_t *ids)
{
    (void)sp;
    const flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim, n = ix->n;
    bool l2 = is_l2(ix);
    float buf[FLAT_SCAN_BLOCK];
    lore__topk t;
    lore__topk_init(&t, k, scores, ids);
    for (size_t i = 0; i < n; i += FLAT_SCAN_BLOCK) {
        size_t m = n - i < FLAT_SCAN_BLOCK ? n - i : FLAT_SCAN_BLOCK;
        if (l2) {
            ix->dk->l2_many(q, f->x + i * d, m, d, buf);
            /* The keeper keeps the largest: nearer is a larger negated distance. */
            for (size_t j = 0; j < m; j++)
                buf[j] = -buf[j];
        } else {
            ix->dk->ip_many(q, f->x + i * d, m, d, buf);
        }
        lore__topk_push_many(&t, buf, f->ids + i, 0, m);
    }
    lore__topk_finish(&t, l2, scores, ids);
    lore__index_count_distances(ix, (int64_t)n);
    return LORE_OK;
}

static lore_status flat_search_batch(const lore_index *ix, const float *q, size_t nq, int k,
                                     const lore_search_params *sp, float *scores, int64_t *ids)
{
    const flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim, n = ix->n, kk = (size_t)k;
    bool l2 = is_l2(ix);
    if (nq < (size_t)ix->p.flat_gemm_min_queries || n == 0) {
        for (size_t i = 0; i < nq; i++)
            flat_search_one(ix, q + i * d, k, sp, scores + i * kk, ids + i * kk);
        return LORE_OK;
    }

    size_t qb = nq < FLAT_GEMM_QUERIES ? nq : FLAT_GEMM_QUERIES;
    size_t xb = n < FLAT_GEMM_VECTORS ? n : FLAT_GEMM_VECTORS;
    float *c = alloc64(qb * xb * sizeof *c);
    lore__topk *keep = malloc(nq * sizeof *keep);
    if (!c || !keep) {
        free(c);
        free(keep);
        return lore__fail(LORE_ENOMEM, "flat search: out of memory for a batch of %zu queries", nq);
    }
    for (size_t i = 0; i < nq; i++)
        lore__topk_init(&keep[i], k, scores + i * kk, ids + i * kk);

    for (size_t x0 = 0; x0 < n; x0 += xb) {
        size_t nb = n - x0 < xb ? n - x0 : xb;
        const float *norms = l2 ? f->norms + x0 : NULL;
        for (size_t q0 = 0; q0 < nq; q0 += qb) {
            size_t mq = nq - q0 < qb ? nq - q0 : qb;
            lore__sgemm_nt((int)mq, (int)nb, (int)d, l2 ? 2.0f : 1.0f, q + q0 * d, (int)d,
                           f->x + x0 * d, (int)d, 0.0f, c, (int)nb);
            for (size_t i = 0; i < mq; i++) {
                float *row = c + i * nb;
                if (l2)
                    for (size_t j = 0; j < nb; j++)
                        row[j] -= norms[j];
                lore__topk_push_many(&keep[q0 + i], row, f->ids + x0, 0, nb);
            }
        }
    }

    for (size_t i = 0; i < nq; i++) {
        float *s = scores + i * kk;
        int64_t *id = ids + i * kk;
        lore__topk_finish(&keep[i], l2, s, id);
        if (l2) {
            /* s holds |x|^2 - 2 q.x; the distance adds |q|^2. Padded slots stay +inf. */
            float qn = ix->dk->ip(q + i * d, q + i * d, d);
            for (size_t j = 0; j < kk && id[j] >= 0; j++) {
                float v = s[j] + qn;
                s[j] = v > 0.0f ? v : 0.0f;
            }
        }
    }
    free(c);
    free(keep);
    lore__index_count_distances(ix, (int64_t)(nq * n));
    return LORE_OK;
}

static size_t flat_memory_bytes(const lore_index *ix)
{
    const flat_impl *f = ix->impl;
    size_t cap = f->capacity, d = (size_t)ix->p.dim;
    if (cap == 0)
        return sizeof *f;
    size_t bytes =
        sizeof *f + round_up64(cap * d * sizeof(float)) + round_up64(cap * sizeof(int64_t));
    if (f->norms)
        bytes += round_up64(cap * sizeof(float));
    return bytes;
}

static lore_status flat_save(const lore_index *ix, lore__snap_writer *w)
{
    const flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim, n = ix->n;
    lore_status s = lore__snap_put_u64(w, (uint64_t)n);
    if (s == LORE_OK && n > 0)
        s = lore__snap_put(w, f->x, n * d * sizeof(float));
    if (s == LORE_OK && n > 0)
        s = lore__snap_put(w, f->ids, n * sizeof(int64_t));
    return s;
}

static lore_status flat_load(lore_index *ix, lore__snap_reader *r)
{
    flat_impl *f = ix->impl;
    size_t d = (size_t)ix->p.dim;
    assert(f->capacity == 0);
    /* index.c has already set ix->n from the header; the body must agree. */
    if ((uint64_t)ix->n > (uint64_t)f->max_vectors)
        return lore__fail(LORE_ECORRUPT,
                          "snapshot: flat index of %zu vectors of dim %zu is "
                          "impossible",
                          ix->n, d);
    uint64_t count = 0;
    lore_status s = lore__snap_get_count(r, (uint64_t)ix->n, "flat vector count", &count);
    if (s != LORE_OK)
        return s;
    size_t n = (size_t)count;
    if (n != ix->n)
        return lore__fail(LORE_ECORRUPT,
                          "snapshot: flat vector count %zu disagrees with the "
                          "header's %zu",
                          n, ix->n);
    for (size_t have = 0; have < n;) {
        size_t m = n - have < FLAT_LOAD_CHUNK ? n - have : FLAT_LOAD_CHUNK;
        if (have + m > f->capacity) {
            size_t cap = f->capacity * 2 > have + m ? f->capacity * 2 : have + m;
            if ((s = reserve(ix, have, cap < n ? cap : n)) != LORE_OK)
                return s;
        }
        if ((s = lore__snap_get(r, f->x + have * d, m * d * sizeof(float))) != LORE_OK)
            return s;
        have += m;
    }
    if (n > 0 && (s = lore__snap_get(r, f->ids, n * sizeof(int64_t))) != LORE_OK)
        return s;
    if (is_l2(ix) && n > 0)
        compute_norms(ix, 0, n);
    return LORE_OK;
}

const lore__index_ops lore__flat_ops = {
    .init = flat_init,
    .destroy = flat_destroy,
    .train = NULL,
    .add = flat_add,
    .search_one = flat_search_one,
    .search_batch = flat_search_batch,
    .memory_bytes = flat_memory_bytes,
    .save = flat_save,
    .load = flat_load,
};
