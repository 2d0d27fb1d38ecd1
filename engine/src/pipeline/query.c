/*
 * query.c - one question in, ranked chunks with their sources out:
 * embed (through the embedder's cache) -> index search -> fetch the chunks'
 * texts -> optional NLI verification or re-ranking.
 *
 * Candidates: LORE_RERANK_NONE and LORE_RERANK_VERIFY search for k (VERIFY
 * judges those k and keeps their order); LORE_RERANK_NLI searches for
 * rerank_depth, judges every one and keeps the k with the highest entailment
 * probability (ties keep the vector order). An id the index returns that the
 * store no longer holds (another handle deleted it since the index was
 * built) is dropped, so a result may hold fewer than k hits.
 *
 * NLI pairs are (premise = the chunk's text, hypothesis = the query): does
 * the passage support the question's statement.
 *
 * Everything a query needs lives in the caller's result (its scratch_),
 * sized by the largest query so far: once warm, a query allocates nothing
 * (the store's read buffer, the embedder and the index keep their own
 * scratch).
 */
#include "core/lore_int.h"
#include "pipeline/pipeline_int.h"

#include <stdlib.h>
#include <string.h>

struct lore_query_scratch {
    float *qvec;
    size_t cap_dim;
    float *scores;
    int64_t *ids;
    lore_hit *hits, *tmp;
    size_t *order;
    const char **prem, **hyp;
    size_t *prem_len, *hyp_len;
    size_t cap; /* candidates the arrays above hold */
    float *probs;
    size_t cap_probs;
    lore_chunk_buf buf;
};

void lore_query_result_free(lore_query_result *r)
{
    if (!r)
        return;
    struct lore_query_scratch *q = r->scratch_;
    if (q) {
        free(q->qvec);
        free(q->scores);
        free(q->ids);
        free(q->hits);
        free(q->tmp);
        free(q->order);
        free(q->prem);
        free(q->hyp);
        free(q->prem_len);
        free(q->hyp_len);
        free(q->probs);
        lore_chunk_buf_free(&q->buf);
        free(q);
    }
    memset(r, 0, sizeof *r);
}

static lore_status grow_scratch(lore_query_result *r, size_t dim, size_t n, size_t n_labels)
{
    struct lore_query_scratch *q = r->scratch_;
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return lore__fail(LORE_ENOMEM, "query: out of memory");
        r->scratch_ = q;
    }
    if (dim > q->cap_dim) {
        float *v = realloc(q->qvec, dim * sizeof *v);
        if (!v)
            return lore__fail(LORE_ENOMEM, "query: out of memory for a %zu-dim vector", dim);
        q->qvec = v;
        q->cap_dim = dim;
    }
    if (n > q->cap) {
        /* Each array moves on its own; cap only grows once all have. */
#define GROW_(field)                                                                               \
    do {                                                                                           \
        void *g_ = realloc(q->field, n * sizeof *q->field);                                        \
        if (!g_)                                                                                   \
            return lore__fail(LORE_ENOMEM, "query: out of memory for %zu candidates", n);          \
        q->field = g_;                                                                             \
    } while (0)
        GROW_(scores);
        GROW_(ids);
        GROW_(hits);
        GROW_(tmp);
        GROW_(order);
        GROW_(prem);
        GROW_(hyp);
        GROW_(prem_len);
        GROW_(hyp_len);
#undef GROW_
        q->cap = n;
    }
    if (n * n_labels > q->cap_probs) {
        float *v = realloc(q->probs, n * n_labels * sizeof *v);
        if (!v)
            return lore__fail(LORE_ENOMEM, "query: out of memory for NLI probabilities");
        q->probs = v;
        q->cap_probs = n * n_labels;
    }
    return LORE_OK;
}

/* Orders the first n hits by entailment, highest first; ties keep their vector order. */
static void rerank_by_entailment(struct lore_query_scratch *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        q->order[i] = i;
    /* A stable insertion sort: n is the re-rank depth, and every candidate already cost an
     * NLI forward pass, which dwarfs the n^2 / 4 comparisons. */
    for (size_t i = 1; i < n; i++) {
        size_t v = q->order[i], j = i;
        while (j > 0 && q->hits[q->order[j - 1]].entailment < q->hits[v].entailment) {
            q->order[j] = q->order[j - 1];
            j--;
        }
        q->order[j] = v;
    }
    for (size_t i = 0; i < n; i++)
        q->tmp[i] = q->hits[q->order[i]];
    memcpy(q->hits, q->tmp, n * sizeof *q->hits);
}

static lore_status check_query(const lore_pipeline *p, const lore_query_params *q, int *depth)
{
    if (q->k < 1)
        return lore__fail(LORE_EINVAL, "query: k must be >= 1 (got %d)", q->k);
    if ((unsigned)q->rerank > LORE_RERANK_NLI)
        return lore__fail(LORE_EINVAL, "query: unknown rerank mode %d", (int)q->rerank);
    *depth = q->rerank_depth > 0 ? q->rerank_depth : 2 * q->k;
    if (q->rerank == LORE_RERANK_NLI && *depth < q->k)
        return lore__fail(LORE_EINVAL, "query: rerank_depth %d is smaller than k %d",
                          q->rerank_depth, q->k);
    if (q->rerank != LORE_RERANK_NONE && !p->nli)
        return lore__fail(LORE_ESTATE,
                          "query: %s re-ranking needs an NLI model (open the "
                          "pipeline with params.nli or shared_nli)",
                          q->rerank == LORE_RERANK_VERIFY ? "verify" : "NLI");
    return LORE_OK;
}

lore_status lore_pipeline_query(lore_pipeline *p, const char *text, size_t len,
                                const lore_query_params *qp, lore_query_result *out)
{
    if (!p || !out)
        return lore__fail(LORE_EINVAL, "lore_pipeline_query: %s is NULL", p ? "out" : "pipeline");
    if (!text && len > 0)
        return lore__fail(LORE_EINVAL, "lore_pipeline_query: text is NULL but len is %zu", len);
    out->n_hits = 0;
    out->embed_cached = false;
    memset(out->stage_ns, 0, sizeof out->stage_ns);
    lore_query_params q = qp ? *qp : lore_query_default_params();
    int depth = 0;
    lore_status s = check_query(p, &q, &depth);
    if (s != LORE_OK)
        return s;
    /* Only after a failed ingest: the index missed a rebuild. */
    if (p->index_stale && (s = lore__pipeline_rebuild(p, NULL)) != LORE_OK)
        return s;
    if (!lore_index_is_trained(p->index))
        return lore__fail(LORE_ESTATE,
                          "query: the IVF index is not trained: the store holds %lld vectors of "
                          "tier '%s' and n_lists %d needs at least that many; ingest more or "
                          "lower n_lists",
                          (long long)p->n_stored, p->tier, p->index_p.n_lists);
    size_t n_cand = (size_t)(q.rerank == LORE_RERANK_NLI ? depth : q.k);
    size_t n_labels = p->nli ? (size_t)lore_nli_n_labels(p->nli) : 0;
    if ((s = grow_scratch(out, (size_t)p->dim, n_cand, n_labels)) != LORE_OK)
        return s;
    struct lore_query_scratch *sc = out->scratch_;

    /* Embed. */
    int64_t t0 = lore__pipe_now_ns();
    lore_encoder_stats before, after;
    lore_embedder_get_stats(p->embedder, &before);
    const char *texts[1] = {text ? text : ""};
    size_t lens[1] = {len};
    s = lore_embedder_embed_batch(p->embedder, texts, lens, 1, sc->qvec);
    int64_t t1 = lore__pipe_now_ns();
    out->stage_ns[LORE_QUERY_EMBED] = t1 - t0;
    if (s != LORE_OK)
        return s;
    lore_embedder_get_stats(p->embedder, &after);
    out->embed_cached = after.cache_hits > before.cache_hits;

    /* Search. */
    s = lore_index_search(p->index, sc->qvec, 1, (int)n_cand, &q.search, sc->scores, sc->ids);
    int64_t t2 = lore__pipe_now_ns();
    out->stage_ns[LORE_QUERY_SEARCH] = t2 - t1;
    if (s != LORE_OK)
        return s;

    /* Fetch: unused slots (-1) end the list. */
    size_t m = 0;
    while (m < n_cand && sc->ids[m] >= 0)
        m++;
    if ((s = lore_store_get_chunks(p->store, sc->ids, m, &sc->buf)) != LORE_OK)
        return s;
    size_t n = 0;
    for (size_t i = 0; i < m; i++) {
        const lore_chunk_rec *c = &sc->buf.rows[i];
        if (!c->found)
            continue; /* deleted since the index was built */
        sc->hits[n++] = (lore_hit){.chunk_id = c->id,
                                   .doc_id = c->doc_id,
                                   .ordinal = c->ordinal,
                                   .byte_begin = c->byte_begin,
                                   .byte_end = c->byte_end,
                                   .path = c->path,
                                   .text = c->text,
                                   .text_len = c->text_len,
                                   .score = sc->scores[i]};
    }
    int64_t t3 = lore__pipe_now_ns();
    out->stage_ns[LORE_QUERY_FETCH] = t3 - t2;

    /* Verify or re-rank. */
    if (q.rerank != LORE_RERANK_NONE && n > 0) {
        size_t nj = q.rerank == LORE_RERANK_VERIFY && n > (size_t)q.k ? (size_t)q.k : n;
        for (size_t i = 0; i < nj; i++) {
            sc->prem[i] = sc->hits[i].text;
            sc->prem_len[i] = sc->hits[i].text_len;
            sc->hyp[i] = texts[0];
            sc->hyp_len[i] = len;
        }
        s = lore_nli_classify_batch(p->nli, sc->prem, sc->prem_len, sc->hyp, sc->hyp_len, nj,
                                    sc->probs);
        if (s != LORE_OK)
            return s;
        for (size_t i = 0; i < nj; i++) {
            const float *pr = sc->probs + i * n_labels;
            lore_hit *h = &sc->hits[i];
            h->verified = true;
            h->entailment = pr[p->nli_entail];
            h->neutral = pr[p->nli_neutral];
            h->contradiction = pr[p->nli_contra];
        }
        if (q.rerank == LORE_RERANK_NLI)
            rerank_by_entailment(sc, nj);
        out->stage_ns[LORE_QUERY_VERIFY] = lore__pipe_now_ns() - t3;
    }
    out->hits = sc->hits;
    out->n_hits = n < (size_t)q.k ? n : (size_t)q.k;
    lore__counter_add(LORE_COUNTER_QUERIES, 1);
    return LORE_OK;
}
