/*
 * topk.h - keeping the k best of a stream of (score, id) pairs, larger score
 * better (callers negate L2 distances on the way in and out).
 *
 * A binary min-heap of size k over caller-provided storage: the root is the
 * worst kept score, so a candidate is rejected with one compare
 * (lore__topk_threshold) and accepted in O(log k). No allocation.
 */
#ifndef LORE_KERNELS_TOPK_H
#define LORE_KERNELS_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lore__topk {
    int k;
    int n;          /* kept so far, <= k */
    float *score;   /* k slots */
    int64_t *id;    /* k slots */
} lore__topk;

/* Starts an empty keeper over score[k] and id[k]. */
void lore__topk_init(lore__topk *t, int k, float *score, int64_t *id);

/* The score a candidate must beat to be kept: -inf until k are kept, then the worst kept. */
static inline float lore__topk_threshold(const lore__topk *t)
{
    return t->n < t->k ? -__builtin_inff() : t->score[0];
}

/* Offers (s, id); kept when s > threshold (ties keep the earlier one). */
void lore__topk_push(lore__topk *t, float s, int64_t id);

/* Offers scores[i] with ids[i] (ids NULL: id_base + i) for i < n. */
void lore__topk_push_many(lore__topk *t, const float *scores, const int64_t *ids,
                          int64_t id_base, size_t n);

/*
 * Writes the kept pairs best first into scores_out/ids_out (k slots each),
 * negating the scores when negate is set, and pads unused slots with id -1
 * and score -inf (+inf when negated). The keeper is left empty.
 */
void lore__topk_finish(lore__topk *t, bool negate, float *scores_out, int64_t *ids_out);

#endif
