/*
 * lore/model.h - model tiers: the shapes of the public encoder models lore runs.
 *
 * A tier is a row of data (layers, hidden size, heads, FFN size, vocabulary,
 * positions, pooling, head), not code: the same forward pass runs every tier.
 * A tier's name selects synthetic weights of its shapes when no model folder
 * is given; a model folder brings its own shapes from its config.json.
 */
#ifndef LORE_MODEL_H
#define LORE_MODEL_H

#include <stddef.h>

typedef enum lore_model_kind {
    LORE_MODEL_EMBEDDING = 0, /* sentence embedding: pooled, L2-normalised vector */
    LORE_MODEL_NLI = 1,       /* cross-encoder: sentence pair -> class probabilities */
} lore_model_kind;

typedef enum lore_pooling {
    LORE_POOLING_MEAN = 0, /* mean of the real tokens' last hidden states */
    LORE_POOLING_CLS = 1,  /* the [CLS] token's last hidden state */
} lore_pooling;

typedef enum lore_activation {
    LORE_ACT_GELU = 0,      /* exact GELU, x * Phi(x) with erf ("gelu") */
    LORE_ACT_GELU_TANH = 1, /* tanh approximation ("gelu_new", "gelu_pytorch_tanh") */
} lore_activation;

typedef struct lore_tier {
    const char *name;     /* "minilm-l6" */
    const char *model_id; /* the public model whose shapes it has */
    lore_model_kind kind;
    int n_layers;
    int hidden;          /* model width */
    int n_heads;         /* attention heads; hidden % n_heads == 0 */
    int ffn;             /* intermediate (FFN) width */
    int vocab_size;      /* word-embedding rows */
    int max_positions;   /* position-embedding rows */
    int type_vocab_size; /* token-type (segment) embedding rows */
    int max_tokens;      /* default truncation length (the model's max_seq_length) */
    int n_labels;        /* classification labels (NLI); 0 for embedding models */
    lore_pooling pooling;
    lore_activation act;
    float ln_eps; /* LayerNorm epsilon */
} lore_tier;

/* Number of built-in tiers; ids run from 0 to lore_tier_count() - 1. */
size_t lore_tier_count(void);

/* Built-in tier i, or NULL when i is out of range. Static storage. */
const lore_tier *lore_tier_at(size_t i);

/* Built-in tier named name, or NULL. */
const lore_tier *lore_tier_find(const char *name);

/*
 * Floating-point operations of one forward pass over one sequence of n_tokens
 * (all GEMMs, attention included, 2 flops per multiply-add; elementwise work
 * not counted). This is what the engine adds to the embed_flops counter.
 */
double lore_tier_flops(const lore_tier *t, int n_tokens);

#endif
