/*
 * textgen.h - seeded synthetic text of an exact token length.
 *
 * Words come from the engine's synthetic word generator, drawn with a Zipf
 * law (a few frequent short words, a long tail of rarer, longer ones that
 * WordPiece splits), in sentences of 8 to 30 words with commas and full
 * stops, so characters per token and tokens per word look like English prose
 * over a BERT vocabulary. Lengths are counted with the tokenizer the text is
 * for, so a text asked for n tokens encodes to exactly n tokens plus [CLS]
 * and [SEP].
 */
#ifndef BENCH_TEXTGEN_H
#define BENCH_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "lore/lore.h"
#include "util.h"

typedef struct bench_textgen bench_textgen;

/* tok is borrowed and must outlive the generator. Returns 0, or -1 with e set. */
int bench_textgen_new(const lore_tokenizer *tok, uint64_t seed, bench_textgen **out, bench_err *e);

void bench_textgen_free(bench_textgen *g);

/*
 * Returns a malloc'd NUL-terminated text of exactly n_tokens word pieces
 * (n_tokens >= 0; [CLS]/[SEP] not counted) and its length in *len, or NULL
 * with e set (out of memory, or no word of the vocabulary fits).
 */
char *bench_textgen_text(bench_textgen *g, int n_tokens, size_t *len, bench_err *e);

/*
 * Finds n words that are one token each under g's tokenizer and writes them to
 * words (each at most 15 bytes + NUL). Returns 0, or -1 with e set when the
 * vocabulary has fewer.
 */
int bench_textgen_single_token_words(bench_textgen *g, size_t n, char (*words)[16], bench_err *e);

/* The generator's random stream (splitmix64), for callers that draw alongside it. */
uint64_t bench_textgen_rand(bench_textgen *g);

#endif
