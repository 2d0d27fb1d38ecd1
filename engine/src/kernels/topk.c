/*
 * topk.c - the bounded top-k keeper (topk.h): a binary min-heap over caller storage.
 *
 * Order: a pair is worse than another when its score is lower, or the scores are equal and
 * its id is larger. The heap keeps the worst kept pair at the root (slot 0), so rejecting a
 * candidate costs one compare against lore__topk_threshold, and finish sorts best first with
 * equal scores in ascending id. Acceptance is strict (s > threshold): a candidate that only
 * ties the worst kept score is dropped, so in a scan whose ids grow with arrival (flat, with
 * default ids) the earlier of equal scores is kept and the result equals the first k of a
 * stable sort. NaN and -inf never pass the threshold (not even while fewer than k are kept),
 * so such scores are never returned; their slots stay padded.
 */
#include "core/lore_int.h"

#include <assert.h>

#include "kernels/topk.h"

static inline bool worse(float sa, int64_t ia, float sb, int64_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

/* Moves the pair (s, id) down from slot i of a heap of m slots to where it belongs. */
static void sift_down(float *score, int64_t *id, int m, int i, float s, int64_t v)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && worse(score[c + 1], id[c + 1], score[c], id[c]))
            c++;
        if (!worse(score[c], id[c], s, v))
            break;
        score[i] = score[c];
        id[i] = id[c];
        i = c;
    }
    score[i] = s;
    id[i] = v;
}

/* Keeps (s, v), which the caller has checked beats the threshold. */
static inline void keep(lore__topk *t, float s, int64_t v)
{
    if (t->n < t->k) {
        int i = t->n++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!worse(s, v, t->score[p], t->id[p]))
                break;
            t->score[i] = t->score[p];
            t->id[i] = t->id[p];
            i = p;
        }
        t->score[i] = s;
        t->id[i] = v;
    } else {
        sift_down(t->score, t->id, t->k, 0, s, v);
    }
}

void lore__topk_init(lore__topk *t, int k, float *score, int64_t *id)
{
    assert(k >= 1 && score && id);
    t->k = k;
    t->n = 0;
    t->score = score;
    t->id = id;
}

void lore__topk_push(lore__topk *t, float s, int64_t id)
{
    if (s > lore__topk_threshold(t))
        keep(t, s, id);
}

/* Whether any of the 16 scores at s beats thr: no branch inside, so the compiler turns it into
 * a few vector compares and one test (NaN compares false, as in lore__topk_push). */
static inline bool any_above16(const float *s, float thr)
{
    int any = 0;
    for (int j = 0; j < 16; j++)
        any |= s[j] > thr;
    return any != 0;
}

void lore__topk_push_many(lore__topk *t, const float *scores, const int64_t *ids, int64_t id_base,
                          size_t n)
{
    /* The threshold lives in a register and only changes when a pair is kept, which after the
     * first few hundred candidates of a scan is rare: whole blocks of 16 are rejected with one
     * vector test, and only a block holding a candidate is walked one by one. */
    float thr = lore__topk_threshold(t);
    size_t i = 0;
    while (i < n) {
        while (i + 16 <= n && !any_above16(scores + i, thr))
            i += 16;
        size_t end = n - i < 16 ? n : i + 16;
        for (; i < end; i++) {
            if (scores[i] > thr) {
                keep(t, scores[i], ids ? ids[i] : id_base + (int64_t)i);
                thr = lore__topk_threshold(t);
            }
        }
    }
}

void lore__topk_finish(lore__topk *t, bool negate, float *scores_out, int64_t *ids_out)
{
    /* Heap sort in place: the worst of the m left goes to slot m-1, so slot 0 ends up best. */
    for (int m = t->n; m > 1; m--) {
        float s = t->score[m - 1];
        int64_t v = t->id[m - 1];
        t->score[m - 1] = t->score[0];
        t->id[m - 1] = t->id[0];
        sift_down(t->score, t->id, m - 1, 0, s, v);
    }
    /* Slot by slot, so the outputs may be the keeper's own storage. */
    for (int i = 0; i < t->n; i++) {
        float s = t->score[i];
        int64_t v = t->id[i];
        scores_out[i] = negate ? -s : s;
        ids_out[i] = v;
    }
    for (int i = t->n; i < t->k; i++) {
        scores_out[i] = negate ? __builtin_inff() : -__builtin_inff();
        ids_out[i] = -1;
    }
    t->n = 0;
}
