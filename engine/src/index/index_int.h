/*
 * index_int.h - what the index kinds share: the handle, the per-kind
 * operations table, work counting, and the snapshot stream helpers.
 *
 * index.c owns the public API: it validates every argument (dimension,
 * k, probes, state) before calling a kind's operation, so the kinds assert
 * their preconditions instead of re-checking them.
 */
#ifndef LORE_INDEX_INT_H
#define LORE_INDEX_INT_H

#include "core/lore_int.h"
#include "kernels/distance.h"
#include "kernels/topk.h"

#include <xxhash.h>

typedef struct lore__index_ops lore__index_ops;

/* Snapshot streams: every byte goes through a running XXH3-64 for the trailer checksum. */
typedef struct lore__snap_writer {
    const lore_writer *w;
    XXH3_state_t *hash;
} lore__snap_writer;

typedef struct lore__snap_reader {
    const lore_reader *r;
    XXH3_state_t *hash;
} lore__snap_reader;

struct lore_index {
    lore_index_params p;
    const lore__index_ops *ops;
    void *impl; /* the kind's state */
    size_t n;   /* vectors held */
    bool trained;
    const lore__dist_kernels *dk;
    atomic_llong n_searches, n_distances, n_lists_probed, n_hops;
};

struct lore__index_ops {
    /* Allocates ix->impl for ix->p (already validated). */
    lore_status (*init)(lore_index *ix);
    void (*destroy)(lore_index *ix);
    /* NULL for kinds that need no training. */
    lore_status (*train)(lore_index *ix, const float *x, size_t n);
    /* Appends n vectors; index.c bumps ix->n after success. */
    lore_status (*add)(lore_index *ix, const float *x, const int64_t *ids, size_t n);
    /* One query: writes k results best first (unused: id -1) into scores/ids. */
    lore_status (*search_one)(const lore_index *ix, const float *q, int k,
                              const lore_search_params *sp, float *scores, int64_t *ids);
    /* Optional: all nq queries at once (flat uses BLAS); NULL: search_one per query. */
    lore_status (*search_batch)(const lore_index *ix, const float *q, size_t nq, int k,
                                const lore_search_params *sp, float *scores, int64_t *ids);
    size_t (*memory_bytes)(const lore_index *ix);
    /* The kind's body of a snapshot (after the common header); load runs after init. */
    lore_status (*save)(const lore_index *ix, lore__snap_writer *w);
    lore_status (*load)(lore_index *ix, lore__snap_reader *r);
};

extern const lore__index_ops lore__flat_ops;
extern const lore__index_ops lore__ivf_ops;
extern const lore__index_ops lore__hnsw_ops;

/* Work counting: the index's own stats (readable per index) and the engine's SDE counters. */
static inline void lore__index_count_distances(const lore_index *ix, int64_t n)
{
    atomic_fetch_add_explicit((atomic_llong *)&ix->n_distances, n, memory_order_relaxed);
    lore__counter_add(LORE_COUNTER_INDEX_DISTANCES, n);
}

static inline void lore__index_count_lists(const lore_index *ix, int64_t n)
{
    atomic_fetch_add_explicit((atomic_llong *)&ix->n_lists_probed, n, memory_order_relaxed);
    lore__counter_add(LORE_COUNTER_INDEX_LISTS_PROBED, n);
}

static inline void lore__index_count_hops(const lore_index *ix, int64_t n)
{
    atomic_fetch_add_explicit((atomic_llong *)&ix->n_hops, n, memory_order_relaxed);
    lore__counter_add(LORE_COUNTER_INDEX_HOPS, n);
}

/* Snapshot primitives (snapshot.c): fixed-width little-endian fields, raw f32/i64/u32 arrays. */
lore_status lore__snap_put(lore__snap_writer *w, const void *buf, size_t n);
lore_status lore__snap_put_u32(lore__snap_writer *w, uint32_t v);
lore_status lore__snap_put_u64(lore__snap_writer *w, uint64_t v);
lore_status lore__snap_get(lore__snap_reader *r, void *buf, size_t n);
lore_status lore__snap_get_u32(lore__snap_reader *r, uint32_t *v);
lore_status lore__snap_get_u64(lore__snap_reader *r, uint64_t *v);
/*
 * Reads a u64 count and checks it against max (inclusive) before anything is
 * allocated for it; what names the field for the error ("ivf list 7 size").
 */
lore_status lore__snap_get_count(lore__snap_reader *r, uint64_t max, const char *what,
                                 uint64_t *count);

#endif
