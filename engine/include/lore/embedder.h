/*
 * lore/embedder.h - text in, vectors (or NLI class probabilities) out.
 *
 * An embedder joins a tokenizer and a BERT-family encoder: texts are
 * tokenized, grouped into batches of at most batch_size, sorted by length,
 * run through the encoder (every matrix product one BLAS call across the whole
 * batch), pooled and L2-normalised. An NLI model runs the same encoder over
 * sentence pairs and a 3-way classification head.
 *
 * Threads: the policy is explicit and never stacked. LORE_THREADS_BLAS runs one
 * forward pass at a time with n_threads BLAS threads; LORE_THREADS_WORKERS
 * runs n_threads workers, each with its own workspace, splitting a batch
 * between them, with BLAS single-threaded inside; a batch with fewer texts
 * than workers (a single query) runs on the calling thread with n_threads
 * BLAS threads while the workers sleep. BLAS's thread count is process-wide:
 * the embedder sets it at the start of every call.
 *
 * An embedder or NLI handle is used by one thread at a time.
 */
#ifndef LORE_EMBEDDER_H
#define LORE_EMBEDDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/model.h"
#include "lore/status.h"
#include "lore/tokenizer.h"

typedef struct lore_embedder lore_embedder;
typedef struct lore_nli lore_nli;

typedef enum lore_thread_mode {
    LORE_THREADS_BLAS = 0,    /* one forward pass, n_threads BLAS threads */
    LORE_THREADS_WORKERS = 1, /* n_threads workers, 1 BLAS thread each */
} lore_thread_mode;

typedef enum lore_padding {
    LORE_PADDING_NONE = 0,  /* sequences packed back to back: no padded rows at all */
    LORE_PADDING_BATCH = 1, /* each batch padded to its own longest sequence */
    LORE_PADDING_MAX = 2,   /* every sequence padded to max_tokens (the naive way) */
} lore_padding;

typedef enum lore_precision {
    LORE_PRECISION_F32 = 0,
    LORE_PRECISION_BF16 = 1, /* bf16 GEMMs through cblas_sbgemm, where the BLAS has it */
} lore_precision;

typedef struct lore_encoder_params {
    const char *tier;      /* built-in tier name, used when model_dir is NULL */
    const char *model_dir; /* Hugging Face folder (config.json, model.safetensors,
                              vocab.txt); NULL: synthetic weights of the tier */
    uint64_t seed;         /* synthetic weights and vocabulary */
    int batch_size;        /* texts per forward pass, >= 1 (default 32) */
    int max_tokens;        /* truncation length; 0: the model's default */
    int n_threads;         /* >= 1 (default 1) */
    lore_thread_mode thread_mode;
    lore_padding padding; /* default LORE_PADDING_NONE */
    bool sort_by_length;  /* sort a call's texts by length before batching (default true) */
    lore_precision precision;
    lore_utf8_policy utf8;
    size_t cache_bytes; /* embedder only: LRU cache capacity in bytes; 0: no cache */
} lore_encoder_params;

/* Settings in effect, after defaults and clamps. */
typedef struct lore_encoder_settings {
    lore_tier shape;          /* name and model_id valid while the handle lives */
    bool synthetic_weights;   /* true: seeded random weights, not a trained model */
    char weights_dtype[8];    /* dtype of the stored weights: "f32", "f16", "bf16" */
    char source[512];         /* model folder, or "synthetic:<tier>:seed=<n>" */
    int dim;                  /* output vector length (embedder) or labels (NLI) */
    int batch_size;
    int max_tokens;
    int n_threads;
    lore_thread_mode thread_mode;
    int n_workers;    /* forward passes that run at once */
    int blas_threads; /* BLAS threads per forward pass */
    lore_padding padding;
    bool sort_by_length;
    lore_precision precision;
    size_t cache_bytes;     /* capacity; 0 when off */
    const char *kernel_isa; /* elementwise kernels chosen: "avx512", "avx2", "scalar" */
} lore_encoder_settings;

/* Work done since creation (or the last reset). */
typedef struct lore_encoder_stats {
    int64_t n_texts;         /* texts (NLI: pairs) asked for */
    int64_t n_encoded;       /* of them, run through the encoder (not served by the cache) */
    int64_t n_tokens;        /* real tokens encoded */
    int64_t n_tokens_padded; /* token rows processed, padding included */
    int64_t n_batches;       /* forward passes */
    double n_flops;          /* GEMM flops issued, padding included */
    int64_t n_truncated;     /* texts cut to max_tokens */
    int64_t n_unk;           /* [UNK] tokens */
    int64_t n_invalid_utf8;  /* invalid UTF-8 sequences replaced */
    int64_t cache_hits, cache_misses, cache_evictions;
    size_t cache_entries, cache_bytes_used;
    int64_t workspace_grows; /* times a workspace had to grow after creation */
    size_t workspace_bytes;  /* activation workspace, all workers */
} lore_encoder_stats;

/* Defaults for an embedder: tier "minilm-l6", batch 32, 1 thread, f32, no cache. */
lore_encoder_params lore_embedder_default_params(void);

/*
 * Creates an embedder (a model of kind LORE_MODEL_EMBEDDING). Loads and
 * validates the model folder (errors name the file and the tensor) or builds
 * synthetic weights. *out is NULL on failure. Returns LORE_EINVAL (bad params,
 * unknown tier), LORE_EIO, LORE_ECORRUPT (bad model files), LORE_EUNSUPPORTED
 * (bf16 without a BLAS that has it), LORE_ENOMEM.
 */
lore_status lore_embedder_new(const lore_encoder_params *params, lore_embedder **out);

/* Frees e; NULL is allowed. */
void lore_embedder_free(lore_embedder *e);

/* Length of the vectors e produces. */
int lore_embedder_dim(const lore_embedder *e);

void lore_embedder_get_settings(const lore_embedder *e, lore_encoder_settings *out);
void lore_embedder_get_stats(const lore_embedder *e, lore_encoder_stats *out);
void lore_embedder_reset_stats(lore_embedder *e);

/*
 * Sets fn to be called (with ctx) inside every lore_embedder_embed_batch call
 * that encodes anything, once its cache lookups and tokenization are done and
 * before its forward passes, so a caller can time the two apart. NULL removes
 * it. fn runs on the calling thread and must not call into e.
 */
void lore_embedder_set_phase_hook(lore_embedder *e, void (*fn)(void *ctx), void *ctx);

/* The embedder's tokenizer (owned by e). */
const lore_tokenizer *lore_embedder_tokenizer(const lore_embedder *e);

/*
 * Embeds n texts: out (n * dim floats, caller-owned) receives one L2-normalised
 * vector per text, in input order. lens[i] is the byte length of texts[i];
 * lens NULL means every text is NUL-terminated. Any n >= 0 is accepted; calls
 * larger than batch_size are split. A text's vector does not depend on the
 * other texts of the call. Returns LORE_EINVAL (bad arguments, invalid UTF-8
 * under LORE_UTF8_STRICT: the message names the text's index), LORE_ENOMEM.
 * On failure out's content is unspecified.
 */
lore_status lore_embedder_embed_batch(lore_embedder *e, const char *const *texts,
                                      const size_t *lens, size_t n, float *out);

/*
 * As lore_embedder_embed_batch, but the cache is neither read nor filled
 * (repeats within the call are still encoded once when e has a cache): for
 * bulk work such as ingesting a corpus, which would otherwise push out the
 * cached queries.
 */
lore_status lore_embedder_embed_batch_uncached(lore_embedder *e, const char *const *texts,
                                               const size_t *lens, size_t n, float *out);

/* Defaults for an NLI model: tier "nli-minilm-l6", batch 8, 1 thread, f32. */
lore_encoder_params lore_nli_default_params(void);

/* Creates an NLI cross-encoder (a model of kind LORE_MODEL_NLI). As lore_embedder_new. */
lore_status lore_nli_new(const lore_encoder_params *params, lore_nli **out);

void lore_nli_free(lore_nli *m);
void lore_nli_get_settings(const lore_nli *m, lore_encoder_settings *out);
void lore_nli_get_stats(const lore_nli *m, lore_encoder_stats *out);

/* The model's tokenizer (owned by m). */
const lore_tokenizer *lore_nli_tokenizer(const lore_nli *m);

/* Number of labels, and label i's name ("entailment"), or NULL when out of range. */
int lore_nli_n_labels(const lore_nli *m);
const char *lore_nli_label(const lore_nli *m, int i);

/*
 * Classifies n (premise, hypothesis) pairs: probs (n * n_labels floats,
 * caller-owned) receives the softmax over labels per pair, in input order.
 * Lengths as for lore_embedder_embed_batch (NULL: NUL-terminated).
 */
lore_status lore_nli_classify_batch(lore_nli *m, const char *const *premises,
                                    const size_t *premise_lens,
                                    const char *const *hypotheses,
                                    const size_t *hypothesis_lens, size_t n, float *probs);

#endif
