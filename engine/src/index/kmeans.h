/*
 * kmeans.h - seeded k-means for the IVF index (kmeans.c): a training sample,
 * k-means++ seeding, Lloyd iterations whose assignment step is one GEMM per
 * block of points, empty clusters repaired by splitting the largest.
 *
 * For LORE_METRIC_IP the centroids are kept at unit length after every
 * update (spherical k-means, as FAISS's "spherical" option), so "nearest" is
 * the largest inner product; for LORE_METRIC_L2 it is the smallest squared
 * distance. The same seed, data and parameters give the same centroids.
 */
#ifndef LORE_INDEX_KMEANS_H
#define LORE_INDEX_KMEANS_H

#include "core/lore_int.h"
#include "kernels/distance.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lore__kmeans_params {
    int dim;              /* >= 1 */
    int k;                /* centroids, >= 1 */
    int iters;            /* Lloyd iterations at most, >= 1 */
    int max_per_centroid; /* the training sample holds at most max_per_centroid * k points */
    uint64_t seed;
    lore_metric metric;
    const lore__dist_kernels *dk; /* seeding distances */
} lore__kmeans_params;

/* What a run did, for tests and the curious. */
typedef struct lore__kmeans_info {
    size_t n_train;   /* points in the training sample */
    int iters_run;    /* Lloyd iterations run (fewer than asked when assignments settled) */
    int n_splits;     /* empty clusters repaired, over all iterations */
    double objective; /* after the last assignment: sum of squared distances (L2) or of
                       * inner products (IP) of the sample to its centroids */
} lore__kmeans_info;

/*
 * Clusters n points x (n * dim floats) into p->k centroids, written to
 * centroids (k * dim floats, caller-owned). info may be NULL.
 * LORE_EINVAL when n < k; LORE_ENOMEM.
 */
lore_status lore__kmeans(const float *x, size_t n, const lore__kmeans_params *p, float *centroids,
                         lore__kmeans_info *info);

/*
 * Nearest centroid of each of n points x: labels[i] in 0..k-1, ties to the
 * lower index. c is k * dim floats; c_norm2 holds ||c_j||^2 (needed for L2,
 * ignored for IP, may be NULL then). best, when not NULL, gets the winning
 * c.x (IP) or 2 c.x - ||c||^2 (L2; the squared distance is ||x||^2 minus it).
 * Scores come from one GEMM per block of points. LORE_ENOMEM.
 */
lore_status lore__kmeans_assign(const float *x, size_t n, int dim, const float *c,
                                const float *c_norm2, int k, lore_metric metric, int32_t *labels,
                                float *best);

#endif
