/*
 * textgen.c - seeded synthetic text of an exact token length (see textgen.h).
 *
 * Word ranks follow Zipf's law with exponent 1 over N_WORDS ranks (English
 * word frequencies do, roughly); rank i is the engine's synthetic word i, and
 * the synthetic vocabulary holds the frequent ranks whole. A word's token
 * count is measured by encoding it alone: BERT splits on whitespace and
 * punctuation first, so the counts of words add up.
 */
#include "textgen.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_WORDS 30000
#define SENTENCE_MIN_WORDS 8
#define SENTENCE_MAX_WORDS 30
#define COMMA_PERCENT 8
#define MAX_WORD_TOKENS 62
/* Draws tried for a word that fits the tokens left before settling for punctuation. */
#define FIT_TRIES 32

struct bench_textgen {
    const lore_tokenizer *tok;
    uint64_t seed, state;
    double *cdf; /* N_WORDS cumulative Zipf probabilities */
};

uint64_t bench_textgen_rand(bench_textgen *g)
{
    return bench_splitmix64(&g->state);
}

static double rand_unit(bench_textgen *g)
{
    return (double)(bench_textgen_rand(g) >> 11) * 0x1.0p-53;
}

int bench_textgen_new(const lore_tokenizer *tok, uint64_t seed, bench_textgen **out, bench_err *e)
{
    *out = NULL;
    bench_textgen *g = calloc(1, sizeof *g);
    double *cdf = malloc(N_WORDS * sizeof *cdf);
    if (!g || !cdf) {
        free(g);
        free(cdf);
        return bench_err_set(e, "text generator: out of memory");
    }
    double sum = 0;
    for (size_t i = 0; i < N_WORDS; i++)
        cdf[i] = (sum += 1.0 / (double)(i + 1));
    for (size_t i = 0; i < N_WORDS; i++)
        cdf[i] /= sum;
    g->tok = tok;
    g->seed = seed;
    g->state = seed;
    g->cdf = cdf;
    *out = g;
    return 0;
}

void bench_textgen_free(bench_textgen *g)
{
    if (!g)
        return;
    free(g->cdf);
    free(g);
}

static uint64_t draw_rank(bench_textgen *g)
{
    double u = rand_unit(g);
    size_t lo = 0, hi = N_WORDS - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Word pieces of text alone ([CLS]/[SEP] not counted), or -1 when it does not encode. */
static int count_tokens(const bench_textgen *g, const char *text, size_t len)
{
    int32_t ids[MAX_WORD_TOKENS + 2];
    size_t n = 0;
    if (lore_tokenizer_encode(g->tok, text, len, MAX_WORD_TOKENS + 2, ids, &n, NULL) != LORE_OK)
        return -1;
    return (int)n - 2;
}

char *bench_textgen_text(bench_textgen *g, int n_tokens, size_t *len, bench_err *e)
{
    bench_strbuf b = {0};
    if (bench_strbuf_append(&b, "", 0) != 0)
        goto oom;
    int have = 0, words_left = 0;
    bool sentence_start = true;
    while (have < n_tokens) {
        int left = n_tokens - have;
        if (words_left == 0 && !sentence_start) {
            /* End the sentence; a full stop is one token. */
            if (bench_strbuf_append(&b, ".", 1) != 0)
                goto oom;
            have++;
            sentence_start = true;
            continue;
        }
        if (sentence_start)
            words_left = SENTENCE_MIN_WORDS + (int)(bench_textgen_rand(g) %
                                                    (SENTENCE_MAX_WORDS - SENTENCE_MIN_WORDS + 1));
        char word[16];
        int cost = -1;
        size_t wl = 0;
        for (int t = 0; t < FIT_TRIES && (cost < 1 || cost > left); t++) {
            wl = lore_tokenizer_synthetic_word(g->seed, draw_rank(g), word);
            cost = count_tokens(g, word, wl);
        }
        if (cost < 1 || cost > left) {
            /* Nothing fits the last token or two: close with punctuation. */
            if (bench_strbuf_append(&b, left > 1 ? "," : ".", 1) != 0)
                goto oom;
            have++;
            continue;
        }
        if (sentence_start && b.len > 0 && bench_strbuf_append(&b, " ", 1) != 0)
            goto oom;
        if (!sentence_start && bench_strbuf_append(&b, " ", 1) != 0)
            goto oom;
        if (sentence_start)
            word[0] = (char)toupper((unsigned char)word[0]);
        if (bench_strbuf_append(&b, word, wl) != 0)
            goto oom;
        have += cost;
        words_left--;
        sentence_start = false;
        if (words_left > 0 && have < n_tokens && bench_textgen_rand(g) % 100 < COMMA_PERCENT) {
            if (bench_strbuf_append(&b, ",", 1) != 0)
                goto oom;
            have++;
        }
    }
    /* The counts add up by construction; check it, since every figure per token rests on it. */
    int32_t *ids = malloc(((size_t)n_tokens + 3) * sizeof *ids);
    size_t got = 0;
    if (!ids)
        goto oom;
    lore_status s =
        lore_tokenizer_encode(g->tok, b.s, b.len, (size_t)n_tokens + 3, ids, &got, NULL);
    free(ids);
    if (s != LORE_OK || got != (size_t)n_tokens + 2) {
        bench_err_set(e, "text generator: made %zu tokens, wanted %d", got - 2, n_tokens);
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
oom:
    free(b.s);
    bench_err_set(e, "text generator: out of memory");
    return NULL;
}

int bench_textgen_single_token_words(bench_textgen *g, size_t n, char (*words)[16], bench_err *e)
{
    size_t found = 0;
    for (uint64_t i = 0; i < N_WORDS && found < n; i++) {
        size_t wl = lore_tokenizer_synthetic_word(g->seed, i, words[found]);
        if (count_tokens(g, words[found], wl) == 1)
            found++;
    }
    if (found < n)
        return bench_err_set(e, "text generator: the vocabulary has %zu one-token words, need %zu",
                             found, n);
    return 0;
}
