/*
 * lore/index.h - vector indexes: exact (flat), IVF-Flat and HNSW behind one API.
 *
 * An index holds n vectors of dim floats, each with a 64-bit id, and answers
 * k-nearest-neighbour queries. Metrics: inner product (LORE_METRIC_IP; cosine
 * on L2-normalised vectors), where larger scores are nearer, and squared
 * Euclidean distance (LORE_METRIC_L2), where smaller is nearer. Results come
 * best first; unused slots hold id -1 (and score -inf for IP, +inf for L2).
 *
 * Life cycle: lore_index_new -> lore_index_train (IVF only; a no-op for the
 * others) -> lore_index_add (any number of batches) -> lore_index_search.
 * Snapshots go through lore_writer / lore_reader (a versioned, checksummed
 * format) or straight to a file.
 *
 * Thread safety: search may run from several threads at once on one index
 * (its scratch comes from a pool); train, add, load and free need exclusive use.
 */
#ifndef LORE_INDEX_H
#define LORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/status.h"

typedef struct lore_index lore_index;

typedef enum lore_index_kind {
    LORE_INDEX_FLAT = 0, /* exact: every vector scanned */
    LORE_INDEX_IVF = 1,  /* IVF-Flat: k-means lists, the nearest n_probes lists scanned */
    LORE_INDEX_HNSW = 2, /* hierarchical navigable small-world graph */
} lore_index_kind;

typedef enum lore_metric {
    LORE_METRIC_IP = 0, /* inner product, larger is nearer */
    LORE_METRIC_L2 = 1, /* squared L2 distance, smaller is nearer */
} lore_metric;

typedef struct lore_index_params {
    lore_index_kind kind;
    lore_metric metric;
    int dim; /* >= 1 */
    uint64_t seed;

    /* flat: from this many queries in one call on, scores come from one BLAS
     * GEMM per block instead of a SIMD scan per query (default 4). */
    int flat_gemm_min_queries;

    /* ivf */
    int n_lists;            /* k-means centroids, >= 1 (default 100) */
    int kmeans_iters;       /* Lloyd iterations (default 20) */
    int max_train_per_list; /* training sample cap per centroid (default 256) */

    /* hnsw */
    int M;               /* links per node on upper levels; 2*M on level 0 (default 16) */
    int ef_construction; /* candidate list while building (default 200) */
} lore_index_params;

/* Per-search settings; NULL in lore_index_search means the defaults. */
typedef struct lore_search_params {
    int n_probes;  /* ivf: lists scanned, 1..n_lists (default 1) */
    int ef_search; /* hnsw: candidate list, >= k; 0 (the default): max(k, 16) */
} lore_search_params;

/* Work done by searches (and, for hnsw, by adds) since creation or reset. */
typedef struct lore_index_stats {
    int64_t n_searches;  /* queries answered */
    int64_t n_distances; /* vector distance evaluations */
    int64_t n_lists_probed;
    int64_t n_hops; /* graph nodes expanded */
} lore_index_stats;

/* Defaults for kind at dimension dim. */
lore_index_params lore_index_default_params(lore_index_kind kind, int dim);
lore_search_params lore_search_default_params(void);

/* Name of kind ("flat", "ivf", "hnsw") and metric ("ip", "l2"); "unknown" when out of range. */
const char *lore_index_kind_name(lore_index_kind kind);
const char *lore_metric_name(lore_metric metric);

/* Creates an empty index. *out is NULL on failure (LORE_EINVAL naming the bad field). */
lore_status lore_index_new(const lore_index_params *params, lore_index **out);

/* Frees ix; NULL is allowed. */
void lore_index_free(lore_index *ix);

/*
 * Trains on n vectors x (n * dim floats): k-means for IVF (n >= n_lists), a no-op
 * for flat and hnsw. Training again replaces the lists of an empty index;
 * training one that holds vectors is LORE_ESTATE.
 */
lore_status lore_index_train(lore_index *ix, const float *x, size_t n);

bool lore_index_is_trained(const lore_index *ix);

/*
 * Adds n vectors x (n * dim floats) with ids (n values; NULL: the running
 * count, 0, 1, 2, ...). LORE_ESTATE before an IVF index is trained.
 */
lore_status lore_index_add(lore_index *ix, const float *x, const int64_t *ids, size_t n);

/*
 * Searches nq queries (nq * dim floats) for their k nearest vectors.
 * scores and ids are caller-owned, nq * k each, best first per query; unused
 * slots: id -1. Returns LORE_EINVAL (k < 1, bad search params such as
 * n_probes > n_lists), LORE_ESTATE (IVF not trained).
 */
lore_status lore_index_search(const lore_index *ix, const float *queries, size_t nq, int k,
                              const lore_search_params *sp, float *scores, int64_t *ids);

size_t lore_index_size(const lore_index *ix); /* vectors held */
int lore_index_dim(const lore_index *ix);
const lore_index_params *lore_index_params_of(const lore_index *ix);

/* Distance kernels the index chose at creation: "avx512", "avx2" or "scalar". */
const char *lore_index_kernel_isa(const lore_index *ix);

/* Bytes the index holds (vectors, ids, lists, graph, centroids). */
size_t lore_index_memory_bytes(const lore_index *ix);

void lore_index_get_stats(const lore_index *ix, lore_index_stats *out);
void lore_index_reset_stats(lore_index *ix);

/* ---- snapshots -------------------------------------------------------------- */

/* A byte sink: write all n bytes or fail (LORE_EIO with a message). */
typedef struct lore_writer {
    lore_status (*write)(void *ctx, const void *buf, size_t n);
    void *ctx;
} lore_writer;

/* A byte source: read exactly n bytes, or fail (LORE_ECORRUPT at a short read). */
typedef struct lore_reader {
    lore_status (*read)(void *ctx, void *buf, size_t n);
    void *ctx;
} lore_reader;

/* Writes a snapshot of ix (format in engine/src/index/snapshot.c). */
lore_status lore_index_save(const lore_index *ix, const lore_writer *w);

/* Reads a snapshot; *out is NULL on failure (LORE_ECORRUPT names what is wrong). */
lore_status lore_index_load(const lore_reader *r, lore_index **out);

/* Snapshot to a file, atomically (temporary file, fsync, rename); and back. */
lore_status lore_index_save_file(const lore_index *ix, const char *path);
lore_status lore_index_load_file(const char *path, lore_index **out);

#endif
