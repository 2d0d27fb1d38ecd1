/*
 * weights.h - a BERT encoder's weights and shapes, loaded from a Hugging Face
 * model folder or made synthetic for a built-in tier.
 *
 * All matrices are row-major float32 in the PyTorch Linear layout [out][in],
 * so a projection is Y = X * W^T + b. Q, K and V are fused into one
 * [3*hidden][hidden] matrix (rows Q, then K, then V) so one GEMM computes all
 * three. Tensors stored as f32 and 4-byte aligned are used in place from the
 * file mapping; f16 and bf16 ones (and the fused QKV) are converted into one
 * owned arena.
 *
 * Folder layout read: config.json (model_type "bert"), model.safetensors,
 * vocab.txt; optional tokenizer_config.json (do_lower_case, strip_accents) and
 * 1_Pooling/config.json (sentence-transformers pooling mode). Tensor names are
 * the standard BERT ones, with or without a "bert." prefix.
 */
#ifndef LORE_MODEL_WEIGHTS_H
#define LORE_MODEL_WEIGHTS_H

#include "core/lore_int.h"
#include "model/safetensors.h"

typedef struct lore__bert_layer {
    const float *qkv_w, *qkv_b;   /* [3H][H], [3H] */
    const float *out_w, *out_b;   /* [H][H], [H] */
    const float *ln1_g, *ln1_b;   /* [H] attention output LayerNorm */
    const float *ffn_in_w, *ffn_in_b;   /* [F][H], [F] */
    const float *ffn_out_w, *ffn_out_b; /* [H][F], [H] */
    const float *ln2_g, *ln2_b;   /* [H] output LayerNorm */
} lore__bert_layer;

typedef struct lore__model {
    lore_tier shape;       /* name and model_id point at name_buf / model_id_buf */
    char name_buf[64];
    char model_id_buf[256];
    bool synthetic;
    char dtype[8];         /* stored dtype of the weights: "f32", "f16", "bf16" */
    char source[512];      /* folder path, or "synthetic:<tier>:seed=<n>" */

    const float *word_emb;  /* [V][H] */
    const float *pos_emb;   /* [P][H] */
    const float *type_emb;  /* [TV][H] */
    const float *emb_ln_g, *emb_ln_b;
    lore__bert_layer *layers; /* n_layers */

    /* NLI head (kind LORE_MODEL_NLI): pooler on [CLS] then classifier. */
    const float *pooler_w, *pooler_b; /* [H][H], [H]; NULL when absent */
    const float *cls_w, *cls_b;       /* [L][H], [L] */
    char **labels;                    /* n_labels names ("entailment") */

    lore_tokenizer *tokenizer; /* owned */

    float *arena; /* owned f32 storage for converted and synthetic tensors */
    size_t arena_floats;
    lore__safetensors *st; /* mapping the in-place tensors point into; NULL if synthetic */
} lore__model;

/*
 * Loads dir. tok_params may override the tokenizer's UTF-8 policy; lower-case
 * and accent handling come from the folder (tokenizer_config.json) when it
 * says. Every failure names the file and, for tensors, the tensor and the
 * shapes or offsets that disagree. *out is NULL on failure.
 */
lore_status lore__model_load(const char *dir, const lore_tokenizer_params *tok_params,
                             lore__model **out);

/*
 * Builds seeded synthetic weights of tier's shapes (BERT's initialisation
 * scale, so activations stay finite) and a synthetic vocabulary of
 * tier->vocab_size tokens.
 */
lore_status lore__model_synthetic(const lore_tier *tier, uint64_t seed,
                                  const lore_tokenizer_params *tok_params, lore__model **out);

/* Frees m; NULL is allowed. */
void lore__model_free(lore__model *m);

#endif
