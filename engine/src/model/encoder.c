/*
 * encoder.c - the BERT forward pass: embeddings, N encoder layers, pooling
 * (or the NLI head), written as BLAS GEMMs over all rows of a batch with the
 * elementwise kernels of kernels/nn.h in between.
 *
 * Per layer, for R token rows (H hidden, F FFN, h heads of d = H/h):
 *   QKV = X Wqkv^T + b            one GEMM, R x 3H x H
 *   per sequence and head:        S = Q K^T / sqrt(d), softmax, C = S V
 *   X = LN(C Wo^T + bo + X)       one GEMM, R x H x H, fused residual + LN
 *   X = LN(GELU(X W1^T + b1) W2^T + b2 + X)   two GEMMs, R x F x H, R x H x F
 * Attention reads Q, K and V in place from the fused QKV rows (leading
 * dimension 3H), so no head is ever copied out.
 */
#include "core/lore_int.h"
#include "model/encoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas_int.h"

/* 64-byte alignment: a cache line, and one AVX-512 vector. */
static float *alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static lore_status ws_ensure(lore__encoder_ws *ws, const lore_tier *t, size_t rows, size_t seq_len,
                             size_t seqs)
{
    if (rows <= ws->cap_rows && seq_len <= ws->cap_seq_len && seqs <= ws->cap_seqs)
        return LORE_OK;
    rows = max_size(rows, ws->cap_rows);
    seq_len = max_size(seq_len, ws->cap_seq_len);
    seqs = max_size(seqs, ws->cap_seqs);
    size_t h = (size_t)t->hidden, f = (size_t)t->ffn, labels = (size_t)max_size(1, t->n_labels);
    lore__encoder_ws n = {0};
    n.hidden = alloc_floats(rows * h);
    n.tmp = alloc_floats(rows * h);
    n.qkv = alloc_floats(rows * 3 * h);
    n.ctx = alloc_floats(rows * h);
    n.ffn = alloc_floats(rows * f);
    n.scores = alloc_floats(seq_len * seq_len);
    n.pooled = alloc_floats(seqs * h);
    n.logits = alloc_floats(seqs * labels);
    if (!n.hidden || !n.tmp || !n.qkv || !n.ctx || !n.ffn || !n.scores || !n.pooled || !n.logits) {
        lore__encoder_ws_free(&n);
        return lore__fail(LORE_ENOMEM, "encoder workspace: out of memory for %zu rows of %zu", rows,
                          h);
    }
    n.cap_rows = rows;
    n.cap_seq_len = seq_len;
    n.cap_seqs = seqs;
    n.bytes = sizeof(float) * (rows * (6 * h + f) + seq_len * seq_len + seqs * (h + labels));
    n.n_grows = ws->n_grows;
    if (ws->cap_rows > 0) { /* growth after creation: what a no-allocation loop must not hide */
        n.n_grows++;
        lore__counter_add(LORE_COUNTER_WORKSPACE_GROWS, 1);
    }
    lore__encoder_ws_free(ws);
    *ws = n;
    return LORE_OK;
}

lore_status lore__encoder_ws_init(lore__encoder_ws *ws, const lore_tier *shape, size_t rows,
                                  size_t seq_len, size_t seqs)
{
    memset(ws, 0, sizeof *ws);
    return ws_ensure(ws, shape, max_size(rows, 1), max_size(seq_len, 1), max_size(seqs, 1));
}

void lore__encoder_ws_free(lore__encoder_ws *ws)
{
    free(ws->hidden);
    free(ws->tmp);
    free(ws->qkv);
    free(ws->ctx);
    free(ws->ffn);
    free(ws->scores);
    free(ws->pooled);
    free(ws->logits);
    memset(ws, 0, sizeof *ws);
}

static int seq_rows(const lore__seq *s, int pad_to)
{
    return pad_to > 0 ? pad_to : s->n;
}

/* Word + position + token-type embeddings of every row, then LayerNorm. */
static lore_status embed_rows(const lore__model *m, const lore__nn_kernels *k, lore__encoder_ws *ws,
                              const lore__seq *seqs, size_t n_seq, int pad_to, int32_t pad_id)
{
    const lore_tier *t = &m->shape;
    size_t h = (size_t)t->hidden;
    float *x = ws->hidden;
    for (size_t i = 0; i < n_seq; i++) {
        const lore__seq *s = &seqs[i];
        int rows = seq_rows(s, pad_to);
        if (rows > t->max_positions)
            return lore__fail(LORE_EINTERNAL, "sequence of %d rows exceeds %d positions", rows,
                              t->max_positions);
        for (int p = 0; p < rows; p++, x += h) {
            int32_t id = p < s->n ? s->ids[p] : pad_id;
            int32_t tt = p < s->n && s->type_ids ? s->type_ids[p] : 0;
            if (id < 0 || id >= t->vocab_size || tt < 0 || tt >= t->type_vocab_size)
                return lore__fail(LORE_EINTERNAL, "token id %d / type %d out of range (%d / %d)",
                                  id, tt, t->vocab_size, t->type_vocab_size);
            const float *w = m->word_emb + (size_t)id * h;
            const float *pe = m->pos_emb + (size_t)p * h;
            const float *te = m->type_emb + (size_t)tt * h;
            for (size_t j = 0; j < h; j++)
                x[j] = w[j] + pe[j] + te[j];
        }
    }
    size_t total = (size_t)(x - ws->hidden) / h;
    k->add_layernorm(ws->hidden, h, NULL, 0, NULL, m->emb_ln_g, m->emb_ln_b, total, h, t->ln_eps);
    return LORE_OK;
}

/* Scores, softmax and context for every sequence and head; returns the flops. */
static double attention(const lore_tier *t, const lore__nn_kernels *k, lore__encoder_ws *ws,
                        const lore__seq *seqs, size_t n_seq, int pad_to)
{
    int h = t->hidden, d = t->hidden / t->n_heads, ld_qkv = 3 * h;
    float scale = 1.0f / sqrtf((float)d);
    double flops = 0;
    size_t r0 = 0;
    for (size_t i = 0; i < n_seq; i++) {
        /* Padded, a sequence attends over all its rows with the padded keys
         * masked, as padded implementations do: softmax over the real keys,
         * zero weight on the rest. Packed, rows and keys are the real tokens. */
        int rows = seq_rows(&seqs[i], pad_to), real = seqs[i].n;
        const float *base = ws->qkv + r0 * (size_t)ld_qkv;
        for (int head = 0; head < t->n_heads; head++) {
            const float *q = base + head * d, *kk = q + h, *v = q + 2 * h;
            lore__sgemm_nt(rows, rows, d, scale, q, ld_qkv, kk, ld_qkv, 0.0f, ws->scores, rows);
            k->softmax_rows(ws->scores, (size_t)rows, (size_t)rows, (size_t)real);
            if (real < rows)
                for (int r = 0; r < rows; r++)
                    memset(ws->scores + (size_t)r * rows + real, 0,
                           (size_t)(rows - real) * sizeof(float));
            lore__sgemm_nn(rows, d, rows, 1.0f, ws->scores, rows, v, ld_qkv, 0.0f,
                           ws->ctx + r0 * (size_t)h + head * d, h);
        }
        flops += 4.0 * rows * rows * h;
        r0 += (size_t)rows;
    }
    return flops;
}

static void swap_hidden(lore__encoder_ws *ws)
{
    float *x = ws->hidden;
    ws->hidden = ws->tmp;
    ws->tmp = x;
}

static double layer(const lore_tier *t, const lore__bert_layer *w, const lore__nn_kernels *k,
                    lore__encoder_ws *ws, const lore__seq *seqs, size_t n_seq, int pad_to, int rows)
{
    int h = t->hidden, f = t->ffn;
    lore__sgemm_nt(rows, 3 * h, h, 1.0f, ws->hidden, h, w->qkv_w, h, 0.0f, ws->qkv, 3 * h);
    k->add_bias(ws->qkv, 3 * (size_t)h, w->qkv_b, (size_t)rows, 3 * (size_t)h);
    double flops = attention(t, k, ws, seqs, n_seq, pad_to);
    lore__sgemm_nt(rows, h, h, 1.0f, ws->ctx, h, w->out_w, h, 0.0f, ws->tmp, h);
    k->add_layernorm(ws->tmp, h, ws->hidden, h, w->out_b, w->ln1_g, w->ln1_b, rows, h, t->ln_eps);
    swap_hidden(ws);
    lore__sgemm_nt(rows, f, h, 1.0f, ws->hidden, h, w->ffn_in_w, h, 0.0f, ws->ffn, f);
    if (t->act == LORE_ACT_GELU_TANH)
        k->bias_gelu_tanh(ws->ffn, f, w->ffn_in_b, rows, f);
    else
        k->bias_gelu(ws->ffn, f, w->ffn_in_b, rows, f);
    lore__sgemm_nt(rows, h, f, 1.0f, ws->ffn, f, w->ffn_out_w, f, 0.0f, ws->tmp, h);
    k->add_layernorm(ws->tmp, h, ws->hidden, h, w->ffn_out_b, w->ln2_g, w->ln2_b, rows, h,
                     t->ln_eps);
    swap_hidden(ws);
    return flops + 2.0 * rows * h * (4.0 * h + 2.0 * f);
}

static void pool_embeddings(const lore_tier *t, const lore__nn_kernels *k,
                            const lore__encoder_ws *ws, const lore__seq *seqs, size_t n_seq,
                            int pad_to)
{
    size_t h = (size_t)t->hidden, r0 = 0;
    for (size_t i = 0; i < n_seq; i++) {
        const float *x = ws->hidden + r0 * h;
        if (t->pooling == LORE_POOLING_CLS)
            memcpy(seqs[i].out, x, h * sizeof(float));
        else
            k->mean_rows(x, h, (size_t)seqs[i].n, h, seqs[i].out);
        k->l2_normalize(seqs[i].out, h);
        r0 += (size_t)seq_rows(&seqs[i], pad_to);
    }
}

/* Pooler (tanh of a dense layer on [CLS]) and classifier, then softmax; returns the flops. */
static double nli_head(const lore__model *m, const lore__nn_kernels *k, lore__encoder_ws *ws,
                       const lore__seq *seqs, size_t n_seq, int pad_to)
{
    const lore_tier *t = &m->shape;
    int h = t->hidden, labels = t->n_labels, n = (int)n_seq;
    size_t r0 = 0;
    for (size_t i = 0; i < n_seq; i++) {
        memcpy(ws->pooled + i * (size_t)h, ws->hidden + r0 * (size_t)h, (size_t)h * sizeof(float));
        r0 += (size_t)seq_rows(&seqs[i], pad_to);
    }
    lore__sgemm_nt(n, h, h, 1.0f, ws->pooled, h, m->pooler_w, h, 0.0f, ws->tmp, h);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < h; j++) {
            float *v = &ws->tmp[(size_t)i * h + j];
            *v = tanhf(*v + m->pooler_b[j]);
        }
    lore__sgemm_nt(n, labels, h, 1.0f, ws->tmp, h, m->cls_w, h, 0.0f, ws->logits, labels);
    k->add_bias(ws->logits, (size_t)labels, m->cls_b, n_seq, (size_t)labels);
    k->softmax_rows(ws->logits, (size_t)labels, n_seq, (size_t)labels);
    for (size_t i = 0; i < n_seq; i++)
        memcpy(seqs[i].out, ws->logits + i * (size_t)labels, (size_t)labels * sizeof(float));
    return (double)n * (2.0 * h * h + 2.0 * h * labels);
}

lore_status lore__encoder_forward(const lore__model *m, const lore__nn_kernels *k,
                                  lore__encoder_ws *ws, const lore__seq *seqs, size_t n_seq,
                                  int pad_to, lore__forward_stats *st)
{
    if (n_seq == 0)
        return LORE_OK;
    const lore_tier *t = &m->shape;
    size_t rows = 0, tokens = 0;
    int longest = 0;
    for (size_t i = 0; i < n_seq; i++) {
        if (seqs[i].n < 1 || (pad_to > 0 && seqs[i].n > pad_to))
            return lore__fail(LORE_EINTERNAL, "sequence %zu: %d tokens (padded to %d)", i,
                              seqs[i].n, pad_to);
        rows += (size_t)seq_rows(&seqs[i], pad_to);
        tokens += (size_t)seqs[i].n;
        if (seq_rows(&seqs[i], pad_to) > longest)
            longest = seq_rows(&seqs[i], pad_to);
    }
    if (ws_ensure(ws, t, rows, (size_t)longest, n_seq) != LORE_OK)
        return LORE_ENOMEM;
    lore_special_ids special = lore_tokenizer_special_ids(m->tokenizer);
    lore_status s = embed_rows(m, k, ws, seqs, n_seq, pad_to, special.pad);
    if (s != LORE_OK)
        return s;
    double flops = 0;
    for (int l = 0; l < t->n_layers; l++)
        flops += layer(t, &m->layers[l], k, ws, seqs, n_seq, pad_to, (int)rows);
    if (t->kind == LORE_MODEL_NLI)
        flops += nli_head(m, k, ws, seqs, n_seq, pad_to);
    else
        pool_embeddings(t, k, ws, seqs, n_seq, pad_to);
    st->n_tokens += (int64_t)tokens;
    st->n_rows += (int64_t)rows;
    st->n_flops += flops;
    lore__counter_add(LORE_COUNTER_EMBED_TOKENS, (int64_t)tokens);
    lore__counter_add(LORE_COUNTER_EMBED_TOKENS_PADDED, (int64_t)rows);
    lore__counter_add(LORE_COUNTER_EMBED_BATCHES, 1);
    lore__counter_add(LORE_COUNTER_EMBED_FLOPS, (int64_t)flops);
    return LORE_OK;
}
