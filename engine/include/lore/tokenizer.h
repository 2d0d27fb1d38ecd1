/*
 * lore/tokenizer.h - BERT tokenization: basic clean-up and splitting, then
 * WordPiece over a vocabulary (a standard vocab.txt, one token per line, the
 * line number being the id).
 *
 * Encoding follows the reference BERT tokenizer step by step:
 *   1. clean-up: drop NUL, U+FFFD and control characters, map whitespace to ' ';
 *   2. put spaces around CJK ideographs (when split_cjk);
 *   3. split on whitespace; per word: lower-case, strip accents (NFD, drop
 *      non-spacing marks), split off every punctuation character;
 *   4. WordPiece: greedy longest match, continuations prefixed "##"; a word
 *      longer than max_chars_per_word or with no full match becomes [UNK];
 *   5. [CLS] tokens [SEP] (pairs: [CLS] a [SEP] b [SEP], type ids 0 then 1),
 *      truncated to max_tokens (pairs: the longer side loses a token first).
 *
 * A tokenizer is immutable once built: encode calls are thread-safe and
 * allocate nothing.
 */
#ifndef LORE_TOKENIZER_H
#define LORE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lore/status.h"

typedef struct lore_tokenizer lore_tokenizer;

/* What to do with bytes that are not valid UTF-8. Either way they are counted. */
typedef enum lore_utf8_policy {
    LORE_UTF8_STRICT = 0,  /* encode fails with LORE_EINVAL naming the byte offset */
    LORE_UTF8_REPLACE = 1, /* each bad sequence becomes U+FFFD (which clean-up drops) */
} lore_utf8_policy;

typedef struct lore_tokenizer_params {
    bool lowercase;         /* default true (uncased models) */
    int strip_accents;      /* -1: same as lowercase (the reference default), 0 no, 1 yes */
    bool split_cjk;         /* default true */
    int max_chars_per_word; /* default 100; longer words become [UNK] */
    lore_utf8_policy utf8;  /* default LORE_UTF8_STRICT */
} lore_tokenizer_params;

/* Per-call detail of one encode (all counts for that call only). */
typedef struct lore_encode_info {
    size_t n_tokens_full;  /* tokens before truncation, [CLS]/[SEP] included */
    size_t n_unk;          /* [UNK] tokens emitted */
    size_t n_invalid_utf8; /* invalid UTF-8 sequences met (replaced or rejected) */
    bool truncated;        /* n_tokens_full > max_tokens */
} lore_encode_info;

lore_tokenizer_params lore_tokenizer_default_params(void);

/*
 * Loads vocab_path (UTF-8, one token per line, '\n' or "\r\n"; id = line
 * number from 0). The vocabulary must hold [UNK], [CLS], [SEP] and [PAD];
 * duplicate tokens, empty lines and invalid UTF-8 are rejected with the line
 * number. params NULL means defaults. *out is NULL on failure.
 * Returns LORE_EIO (cannot read), LORE_ECORRUPT (bad content), LORE_EINVAL
 * (bad params), LORE_ENOMEM.
 */
lore_status lore_tokenizer_load(const char *vocab_path, const lore_tokenizer_params *params,
                                lore_tokenizer **out);

/*
 * Builds a tokenizer over n tokens given in id order (copied; the caller keeps
 * ownership of tokens). Same rules as lore_tokenizer_load.
 */
lore_status lore_tokenizer_new_from_tokens(const char *const *tokens, size_t n,
                                           const lore_tokenizer_params *params,
                                           lore_tokenizer **out);

/*
 * Builds a deterministic synthetic vocabulary of exactly vocab_size tokens
 * (>= 1000) for models with synthetic weights: the BERT special tokens at their
 * usual ids ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), single
 * characters and their "##" forms, then syllable words and "##" syllables
 * drawn from lore_tokenizer_synthetic_word(). Same seed, same vocabulary.
 */
lore_status lore_tokenizer_new_synthetic(size_t vocab_size, uint64_t seed,
                                         const lore_tokenizer_params *params,
                                         lore_tokenizer **out);

/*
 * Writes the i-th word of the synthetic word generator for seed into buf (NUL
 * terminated, lower-case ASCII letters, at most 16 bytes with the NUL) and
 * returns its length. Text made of these words tokenizes the way real text
 * does over a real vocabulary: frequent short words whole, long ones in pieces.
 */
size_t lore_tokenizer_synthetic_word(uint64_t seed, uint64_t i, char buf[16]);

/* Frees t; NULL is allowed. */
void lore_tokenizer_free(lore_tokenizer *t);

size_t lore_tokenizer_vocab_size(const lore_tokenizer *t);

/* Id of token (exact match, "##" included), or -1 when absent. */
int32_t lore_tokenizer_token_id(const lore_tokenizer *t, const char *token);

/* Text of id, or NULL when id is out of range. Valid until t is freed. */
const char *lore_tokenizer_token(const lore_tokenizer *t, int32_t id);

/* The special ids the encoder needs. */
typedef struct lore_special_ids {
    int32_t pad, unk, cls, sep;
} lore_special_ids;

lore_special_ids lore_tokenizer_special_ids(const lore_tokenizer *t);

/*
 * Encodes one text of len bytes (text need not be NUL-terminated; NULL is
 * allowed when len is 0) into ids: [CLS] pieces [SEP], at most max_tokens ids
 * (max_tokens >= 2; the caller's ids array holds max_tokens). *n_ids receives
 * the number written. info may be NULL.
 * Returns LORE_EINVAL for bad arguments or, under LORE_UTF8_STRICT, invalid
 * UTF-8 (the message gives the byte offset).
 */
lore_status lore_tokenizer_encode(const lore_tokenizer *t, const char *text, size_t len,
                                  size_t max_tokens, int32_t *ids, size_t *n_ids,
                                  lore_encode_info *info);

/*
 * Encodes a sentence pair: [CLS] a [SEP] b [SEP], type_ids 0 for [CLS], a and
 * its [SEP], 1 for b and its [SEP]. When the pair is too long, tokens are cut
 * from the end of the longer side, one at a time (ties cut b), as the
 * reference "longest first" strategy does. max_tokens >= 3; ids and type_ids
 * hold max_tokens each. info may be NULL (its counts cover both texts).
 */
lore_status lore_tokenizer_encode_pair(const lore_tokenizer *t, const char *a, size_t a_len,
                                       const char *b, size_t b_len, size_t max_tokens,
                                       int32_t *ids, int32_t *type_ids, size_t *n_ids,
                                       lore_encode_info *info);

/*
 * Encodes text into word pieces without [CLS]/[SEP], and gives for each piece
 * the byte offset in text where the word it came from begins (every piece of
 * one word gets the same offset; a punctuation character is a word of its
 * own), so a caller can cut text at token counts (the chunker does). At most
 * max_ids pieces are written (max_ids >= 1); *n_ids receives the number
 * written, and info->n_tokens_full (info may be NULL) the number the whole
 * text has. ids and offsets hold max_ids each.
 * Returns LORE_EINVAL as lore_tokenizer_encode.
 */
lore_status lore_tokenizer_encode_offsets(const lore_tokenizer *t, const char *text, size_t len,
                                          size_t max_ids, int32_t *ids, size_t *offsets,
                                          size_t *n_ids, lore_encode_info *info);

#endif
