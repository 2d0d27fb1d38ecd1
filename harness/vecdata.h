/*
 * vecdata.h - vectors for the search workload: seeded synthetic clustered
 * data, readers and writers for .fvecs and .npy files, exact ground truth
 * (cached on disk) and recall.
 *
 * Synthetic data is a Gaussian mixture: n_clusters centres drawn uniformly on
 * the unit sphere, every point a uniformly chosen centre plus isotropic
 * Gaussian noise of standard deviation spread / sqrt(dim) per coordinate (so
 * the noise vector's norm is about `spread` whatever the dimension), then
 * optionally L2-normalised. The centres depend on the seed alone; points come
 * from one of several independent streams of the same seed (the corpus and the
 * queries), so queries follow the corpus's distribution without repeating it.
 *
 * Ground truth is exact and independent of the index code it judges: scores
 * from the engine's BLAS in blocks, the best 2k + 8 candidates kept per query,
 * then re-ranked in double precision (ties: lower id first).
 *
 * Cache file (results/.cache/groundtruth/<key as 16 hex digits>.bin), all
 * little-endian:
 *
 *   offset  size        field
 *   0       8           magic "lore-gt\0"
 *   8       4           version (1)
 *   12      4           k
 *   16      8           n_queries
 *   24      8           n_data
 *   32      8           key (must equal the file name's)
 *   40      4           metric (lore_metric)
 *   44      4           dim
 *   48      8*nq*k      ids, int64, best first per query, unused slots -1
 *   end-8   8           fnv1a64 of every byte before it
 *
 * Files are written atomically; a file that fails any check is ignored (the
 * caller warns and recomputes).
 */
#ifndef BENCH_VECDATA_H
#define BENCH_VECDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/lore.h"
#include "util.h"

/* Readers reject larger dimensions as absurd (not a vector file, or corrupt). */
#define BENCH_VECDATA_MAX_DIM 65536

/* Where the ground-truth cache lives when the caller names no folder (relative to the cwd). */
#define BENCH_VECDATA_GT_CACHE_DIR "results/.cache/groundtruth"

/* n vectors of dim floats, row-major. x is owned (malloc'd). */
typedef struct bench_vecs {
    float *x;
    size_t n;
    size_t dim;
} bench_vecs;

/* Frees v->x and zeroes v; accepts NULL. */
void bench_vecs_free(bench_vecs *v);

typedef struct bench_vecdata_synth {
    size_t dim;        /* >= 1 */
    size_t n_clusters; /* >= 1 */
    double spread;     /* noise norm relative to the unit centres, >= 0 */
    bool normalize;    /* L2-normalise every vector */
    uint64_t seed;
} bench_vecdata_synth;

/* Independent point streams of one seed. */
enum {
    BENCH_VECDATA_STREAM_CORPUS = 0,
    BENCH_VECDATA_STREAM_QUERIES = 1,
};

/*
 * Generates n >= 1 points of stream into *out (caller frees with
 * bench_vecs_free); clusters (n entries, may be NULL) receives each point's
 * cluster. The same (p, stream, n) always gives the same bytes, and the first
 * m points of a larger n are the m points of n = m. Returns 0, or -1 with e set.
 */
int bench_vecdata_generate(const bench_vecdata_synth *p, uint64_t stream, size_t n, bench_vecs *out,
                           uint32_t *clusters, bench_err *e);

/* Writes p's n_clusters unit centres (n_clusters * dim floats) into centres. */
int bench_vecdata_centres(const bench_vecdata_synth *p, float *centres, bench_err *e);

/*
 * Shape of a .fvecs or .npy file (chosen by the extension, checked by the
 * contents) without reading its data. Returns 0, or -1 with e naming the file.
 */
int bench_vecdata_probe(const char *path, size_t *n_rows, size_t *dim, bench_err *e);

/*
 * Reads rows [first, first + n) of a .fvecs or .npy file (n == 0: every row from
 * first on) into *out. want_dim > 0 requires that dimension. Rejects, naming the
 * file: an unknown extension, a bad magic or header, a dtype other than
 * little-endian float32, Fortran order, a shape that is not 2-D, dimensions
 * outside 1..BENCH_VECDATA_MAX_DIM, a size that does not match the shape
 * (truncated or trailing bytes), .fvecs records of differing dimensions, too
 * few rows, and non-finite values. Returns 0, or -1 with e set.
 */
int bench_vecdata_read(const char *path, size_t first, size_t n, size_t want_dim, bench_vecs *out,
                       bench_err *e);

/* Writes v as .fvecs / .npy (version 1.0, '<f4', C order), atomically. 0 or -1 with e. */
int bench_vecdata_write_fvecs(const char *path, const bench_vecs *v, bench_err *e);
int bench_vecdata_write_npy(const char *path, const bench_vecs *v, bench_err *e);

/* FNV-1a 64 of v's shape (n, dim as u64) and its float bytes. */
uint64_t bench_vecdata_hash(const bench_vecs *v);

/* The ground-truth cache key: fnv1a64 of both hashes and both shapes, k and metric. */
uint64_t bench_vecdata_gt_key(uint64_t data_hash, size_t n_data, uint64_t queries_hash,
                              size_t n_queries, size_t dim, int k, lore_metric metric);

/*
 * Exact top-k of every query against data (same dim): ids (n_queries * k),
 * best first (IP: largest inner product; L2: smallest squared distance), ties
 * broken by the lower id; slots past n_data hold -1. Runs on the engine's BLAS
 * at its current thread count. Returns 0, or -1 with e set.
 */
int bench_vecdata_gt_compute(const bench_vecs *data, const bench_vecs *queries, int k,
                             lore_metric metric, int64_t *ids, bench_err *e);

/*
 * Looks key up in cache_dir (NULL: BENCH_VECDATA_GT_CACHE_DIR). Returns 1 with
 * *ids (malloc'd, n_queries * k) on a valid entry; 0 on a miss, with warn->msg
 * empty when there is no file and saying what is wrong (naming the file) when
 * one exists but fails a check; -1 with e set when memory ran out.
 */
int bench_vecdata_gt_load(const char *cache_dir, uint64_t key, size_t n_data, size_t n_queries,
                          size_t dim, int k, lore_metric metric, int64_t **ids, bench_err *warn,
                          bench_err *e);

/* Stores an entry (creating cache_dir), atomically. Returns 0, or -1 with e set. */
int bench_vecdata_gt_store(const char *cache_dir, uint64_t key, size_t n_data, size_t n_queries,
                           size_t dim, int k, lore_metric metric, const int64_t *ids, bench_err *e);

/*
 * The whole round: load from the cache, else compute and store. A corrupt entry
 * or a failed store is reported on stderr as a warning ("lore-bench: warning:
 * ...") and does not fail the call. *cached (may be NULL) says whether the
 * cache served it. Returns 0 with *ids (malloc'd, n_queries * k), or -1 with e.
 */
int bench_vecdata_groundtruth(const bench_vecs *data, const bench_vecs *queries, int k,
                              lore_metric metric, const char *cache_dir, int64_t **ids,
                              bool *cached, bench_err *e);

/*
 * recall@k averaged over n_queries: per query, the share of the true top k
 * (ids >= 0 of truth; fewer than k when the data holds fewer vectors) found
 * among the first k ids of found; duplicates and -1 in found count once and
 * never, respectively. Both arrays hold n_queries * k ids. Returns 0 with
 * *recall, or -1 with e set (out of memory).
 */
int bench_vecdata_recall(const int64_t *found, const int64_t *truth, size_t n_queries, int k,
                         double *recall, bench_err *e);

#endif
