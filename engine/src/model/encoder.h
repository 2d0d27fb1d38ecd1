/*
 * encoder.h - the BERT forward pass over one batch of token sequences.
 *
 * A batch is a list of sequences. In packed mode (pad_to == 0) their token
 * rows sit back to back, so projections and the FFN touch no padding at all;
 * otherwise every sequence occupies pad_to rows, the extra rows carrying
 * [PAD], attended over and masked out as keys (the way padded
 * implementations work, kept to measure what padding costs). Attention runs per sequence and
 * head on slices of the fused QKV matrix; everything else is one GEMM over
 * all rows of the batch.
 *
 * A workspace belongs to one thread at a time. Its buffers are sized at
 * creation and grow only when a batch needs more rows (counted).
 */
#ifndef LORE_MODEL_ENCODER_H
#define LORE_MODEL_ENCODER_H

#include "core/lore_int.h"
#include "kernels/nn.h"
#include "model/weights.h"

typedef struct lore__encoder_ws {
    size_t cap_rows;    /* token rows each activation buffer holds */
    size_t cap_seq_len; /* longest sequence the score buffer holds */
    size_t cap_seqs;    /* sequences the pooled buffers hold */
    float *hidden;      /* [rows][H] */
    float *tmp;         /* [rows][H] projection outputs, swapped with hidden */
    float *qkv;         /* [rows][3H] */
    float *ctx;         /* [rows][H] attention context */
    float *ffn;         /* [rows][F] */
    float *scores;      /* [seq_len][seq_len], one head at a time */
    float *pooled;      /* [seqs][H] NLI: [CLS] rows, then pooler output */
    float *logits;      /* [seqs][labels] */
    int64_t n_grows;
    size_t bytes;
} lore__encoder_ws;

typedef struct lore__seq {
    const int32_t *ids;      /* n tokens, [CLS] first */
    const int32_t *type_ids; /* n, or NULL for all 0 */
    int n;
    float *out; /* where the result goes: H floats (embedding) or n_labels (NLI) */
} lore__seq;

typedef struct lore__forward_stats {
    int64_t n_tokens;        /* real tokens */
    int64_t n_rows;          /* token rows processed, padding included */
    double n_flops;          /* GEMM flops issued */
} lore__forward_stats;

/* Sizes a workspace for rows token rows, sequences up to seq_len, and seqs sequences. */
lore_status lore__encoder_ws_init(lore__encoder_ws *ws, const lore_tier *shape, size_t rows,
                                  size_t seq_len, size_t seqs);
void lore__encoder_ws_free(lore__encoder_ws *ws);

/*
 * Runs the encoder over seqs[0..n_seq) and writes each sequence's result to
 * its out: the pooled, L2-normalised vector (embedding models) or the label
 * probabilities (NLI). pad_to 0 packs the sequences; otherwise pad_to >= every
 * n. Grows the workspace when needed (LORE_ENOMEM if that fails). Adds its
 * work to *st.
 */
lore_status lore__encoder_forward(const lore__model *m, const lore__nn_kernels *k,
                                  lore__encoder_ws *ws, const lore__seq *seqs, size_t n_seq,
                                  int pad_to, lore__forward_stats *st);

#endif
