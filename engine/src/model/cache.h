/*
 * cache.h - a bounded LRU cache of embedding vectors keyed by a 64-bit hash.
 *
 * Capacity is in bytes and covers everything an entry costs (its vector and
 * its bookkeeping); all of it is allocated at creation, so a put never
 * allocates. A put of a key already present refreshes it. Not thread-safe:
 * one embedder call uses it at a time.
 */
#ifndef LORE_MODEL_CACHE_H
#define LORE_MODEL_CACHE_H

#include "core/lore_int.h"

typedef struct lore__cache lore__cache;

typedef struct lore__cache_stats {
    int64_t hits, misses, evictions;
    size_t entries;        /* vectors held now */
    size_t max_entries;    /* capacity in vectors */
    size_t bytes_used;     /* entries * lore__cache_entry_bytes(dim) */
    size_t capacity_bytes; /* as asked */
} lore__cache_stats;

/* Bytes one entry of dim floats costs. */
size_t lore__cache_entry_bytes(size_t dim);

/* Hash of a text for a model: XXH3-64 of the bytes, seeded with model_key. */
uint64_t lore__cache_key(uint64_t model_key, const char *text, size_t len);

/*
 * Creates a cache of capacity_bytes for vectors of dim floats. A capacity
 * smaller than one entry gives LORE_EINVAL (with both numbers). *out NULL on failure.
 */
lore_status lore__cache_new(size_t capacity_bytes, size_t dim, lore__cache **out);

void lore__cache_free(lore__cache *c);

/* Copies the vector for key into out (dim floats) and marks it most recent; counts a hit or a miss. */
bool lore__cache_get(lore__cache *c, uint64_t key, float *out);

/* Looks up without counting or reordering. */
bool lore__cache_contains(const lore__cache *c, uint64_t key);

/* Stores vec (dim floats) under key, evicting least recently used entries as needed. */
void lore__cache_put(lore__cache *c, uint64_t key, const float *vec);

void lore__cache_get_stats(const lore__cache *c, lore__cache_stats *out);
void lore__cache_reset_stats(lore__cache *c); /* zeroes hits, misses, evictions */

#endif
