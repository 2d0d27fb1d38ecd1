/*
 * tiers.c - the built-in model tiers: one table row per public model shape.
 *
 * Shapes are those of the models' published config.json files. The NLI tier
 * keeps the encoder shapes of cross-encoder/nli-MiniLM2-L6-H768 with a BERT
 * WordPiece vocabulary (30522 tokens) in place of its RoBERTa one: the
 * embedding table is looked up, not multiplied, so the compute cost is the
 * model's.
 */
#include "core/lore_int.h"

#include <string.h>

/* BERT's defaults, shared by every tier below. */
#define BERT_VOCAB 30522
#define BERT_POSITIONS 512
#define BERT_TYPES 2
#define BERT_LN_EPS 1e-12f

static const lore_tier tiers[] = {
    {"minilm-l3", "sentence-transformers/paraphrase-MiniLM-L3-v2", LORE_MODEL_EMBEDDING, 3, 384,
     12, 1536, BERT_VOCAB, BERT_POSITIONS, BERT_TYPES, 128, 0, LORE_POOLING_MEAN, LORE_ACT_GELU,
     BERT_LN_EPS},
    {"minilm-l6", "sentence-transformers/all-MiniLM-L6-v2", LORE_MODEL_EMBEDDING, 6, 384, 12,
     1536, BERT_VOCAB, BERT_POSITIONS, BERT_TYPES, 256, 0, LORE_POOLING_MEAN, LORE_ACT_GELU,
     BERT_LN_EPS},
    {"minilm-l12", "sentence-transformers/all-MiniLM-L12-v2", LORE_MODEL_EMBEDDING, 12, 384, 12,
     1536, BERT_VOCAB, BERT_POSITIONS, BERT_TYPES, 256, 0, LORE_POOLING_MEAN, LORE_ACT_GELU,
     BERT_LN_EPS},
    {"bge-small", "BAAI/bge-small-en-v1.5", LORE_MODEL_EMBEDDING, 12, 384, 12, 1536, BERT_VOCAB,
     BERT_POSITIONS, BERT_TYPES, 512, 0, LORE_POOLING_CLS, LORE_ACT_GELU, BERT_LN_EPS},
    {"bge-base", "BAAI/bge-base-en-v1.5", LORE_MODEL_EMBEDDING, 12, 768, 12, 3072, BERT_VOCAB,
     BERT_POSITIONS, BERT_TYPES, 512, 0, LORE_POOLING_CLS, LORE_ACT_GELU, BERT_LN_EPS},
    {"nli-minilm-l6", "cross-encoder/nli-MiniLM2-L6-H768", LORE_MODEL_NLI, 6, 768, 12, 3072,
     BERT_VOCAB, BERT_POSITIONS, BERT_TYPES, 512, 3, LORE_POOLING_CLS, LORE_ACT_GELU,
     BERT_LN_EPS},
};

size_t lore_tier_count(void)
{
    return sizeof tiers / sizeof tiers[0];
}

const lore_tier *lore_tier_at(size_t i)
{
    return i < lore_tier_count() ? &tiers[i] : NULL;
}

const lore_tier *lore_tier_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < lore_tier_count(); i++)
        if (strcmp(tiers[i].name, name) == 0)
            return &tiers[i];
    return NULL;
}

double lore_tier_flops(const lore_tier *t, int n_tokens)
{
    double n = n_tokens, h = t->hidden, f = t->ffn;
    /* Per token: fused QKV (3H x H), output projection (H x H), FFN in and out (F x H each). */
    double per_token = 2.0 * h * (4.0 * h + 2.0 * f);
    /* Per sequence: scores Q K^T and context P V, n x n x H each over all heads. */
    double attention = 4.0 * n * n * h;
    double flops = t->n_layers * (n * per_token + attention);
    if (t->kind == LORE_MODEL_NLI)
        flops += 2.0 * h * h + 2.0 * h * t->n_labels; /* pooler and classifier on [CLS] */
    return flops;
}
