/*
 * embed.c - workload: embed one batch of synthetic texts. One item is one
 * text, so the throughput is texts/s; the latency is per batch.
 *
 * Texts: n_base base texts are generated in setup with token lengths drawn
 * uniformly from [seq_len_min, seq_len] (seq_len_min 0: all seq_len), counted
 * as the model sees them, [CLS] and [SEP] included. Every text of an
 * operation is either fresh or, with probability dup_ratio, a repeat of a
 * text already embedded. A fresh text is a base text behind a prefix of
 * PREFIX_WORDS one-token words spelling a counter, so it has never been seen
 * (the cache cannot serve it) yet has the base's exact token count. Building
 * the texts of an operation (a few memcpy) is inside the measured operation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textgen.h"
#include "workloads/encoder_common.h"

#define N_BASE 256
#define PREFIX_WORDS 4
#define PREFIX_RADIX 64

static const char *const tier_choices[] = {"minilm-l3", "minilm-l6", "minilm-l12",
                                           "bge-small", "bge-base",  NULL};

static const bench_param_spec params[] = {
    {"tier", BENCH_PARAM_STRING, "minilm-l6", 0, 0, tier_choices, "",
     "model tier (shapes of a public model); synthetic weights unless model_dir is set"},
    {"model_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "Hugging Face model folder to load instead of synthetic weights"},
    {"batch_size", BENCH_PARAM_INT, "32", 1, 4096, NULL, "texts", "texts per operation"},
    {"seq_len", BENCH_PARAM_INT, "128", 3, 512, NULL, "tokens",
     "tokens per text, [CLS] and [SEP] included (the longest when seq_len_min is set)"},
    {"seq_len_min", BENCH_PARAM_INT, "0", 0, 512, NULL, "tokens",
     "when > 0, text lengths are uniform in [seq_len_min, seq_len]"},
    {"cache", BENCH_PARAM_BOOL, "false", 0, 0, NULL, "", "use the embedding cache"},
    {"cache_mb", BENCH_PARAM_FLOAT, "64", 0.01, 65536, NULL, "MiB", "embedding cache capacity"},
    {"dup_ratio", BENCH_PARAM_FLOAT, "0", 0, 1, NULL, "",
     "probability that a text repeats one already embedded"},
    BENCH_ENCODER_PARAM_SPECS,
};

typedef struct state {
    lore_embedder *emb;
    lore_encoder_settings settings;
    bench_textgen *gen;
    int batch_size;
    double dup_ratio;
    bool prefixed;
    char prefix_words[PREFIX_RADIX][16];
    char *base[N_BASE];
    size_t base_len[N_BASE];
    size_t max_base_len;
    char **slot; /* batch_size buffers of max_base_len + prefix room */
    size_t *slot_len;
    float *out;
    uint64_t next_id;
    uint64_t n_ops;
} state;

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    lore_embedder_free(s->emb);
    bench_textgen_free(s->gen);
    for (size_t i = 0; i < N_BASE; i++)
        free(s->base[i]);
    for (int i = 0; s->slot && i < s->batch_size; i++)
        free(s->slot[i]);
    free(s->slot);
    free(s->slot_len);
    free(s->out);
    free(s);
}

static int make_texts(state *s, const bench_params *p, bench_err *e)
{
    int hi = (int)bench_params_int(p, "seq_len"), lo = (int)bench_params_int(p, "seq_len_min");
    if (lo == 0)
        lo = hi;
    if (lo > hi)
        return bench_err_set(e, "embed: seq_len_min %d is above seq_len %d", lo, hi);
    if (bench_textgen_new(lore_embedder_tokenizer(s->emb), (uint64_t)bench_params_int(p, "seed"),
                          &s->gen, e) != 0)
        return -1;
    /* A prefix needs PREFIX_WORDS tokens besides [CLS] and [SEP]. */
    s->prefixed = lo - 2 > PREFIX_WORDS;
    if (s->prefixed &&
        bench_textgen_single_token_words(s->gen, PREFIX_RADIX, s->prefix_words, e) != 0)
        return -1;
    for (size_t i = 0; i < N_BASE; i++) {
        int n = lo + (int)(bench_textgen_rand(s->gen) % (uint64_t)(hi - lo + 1));
        int words = n - 2 - (s->prefixed ? PREFIX_WORDS : 0);
        if (!(s->base[i] = bench_textgen_text(s->gen, words, &s->base_len[i], e)))
            return -1;
        if (s->base_len[i] > s->max_base_len)
            s->max_base_len = s->base_len[i];
    }
    s->slot = calloc((size_t)s->batch_size, sizeof *s->slot);
    s->slot_len = calloc((size_t)s->batch_size, sizeof *s->slot_len);
    if (!s->slot || !s->slot_len)
        return bench_err_set(e, "embed: out of memory");
    for (int i = 0; i < s->batch_size; i++)
        if (!(s->slot[i] = malloc(s->max_base_len + PREFIX_WORDS * 16 + 1)))
            return bench_err_set(e, "embed: out of memory");
    return 0;
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "embed: out of memory");
    lore_encoder_params ep = lore_embedder_default_params();
    bench_encoder_params(p, &ep);
    /* Texts never exceed seq_len, so that is the padding length of padding=max. */
    ep.max_tokens = (int)bench_params_int(p, "seq_len");
    if (bench_params_bool(p, "cache"))
        ep.cache_bytes = (size_t)(bench_params_float(p, "cache_mb") * 1024 * 1024);
    s->batch_size = ep.batch_size;
    s->dup_ratio = bench_params_float(p, "dup_ratio");
    if (lore_embedder_new(&ep, &s->emb) != LORE_OK) {
        bench_err_set(e, "embed: %s", lore_last_error());
        teardown(s);
        return -1;
    }
    lore_embedder_get_settings(s->emb, &s->settings);
    s->out = malloc((size_t)s->batch_size * (size_t)s->settings.dim * sizeof *s->out);
    if (!s->out) {
        bench_err_set(e, "embed: out of memory");
        teardown(s);
        return -1;
    }
    if (make_texts(s, p, e) != 0) {
        teardown(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* Writes text id into slot i: the prefix spelling id, then base text id mod N_BASE. */
static void build_text(state *s, int i, uint64_t id)
{
    char *d = s->slot[i];
    size_t n = 0;
    if (s->prefixed) {
        uint64_t v = id;
        for (int w = 0; w < PREFIX_WORDS; w++, v /= PREFIX_RADIX) {
            const char *word = s->prefix_words[v % PREFIX_RADIX];
            size_t wl = strlen(word);
            memcpy(d + n, word, wl);
            n += wl;
            d[n++] = ' ';
        }
    }
    size_t b = (size_t)(id % N_BASE);
    memcpy(d + n, s->base[b], s->base_len[b]);
    s->slot_len[i] = n + s->base_len[b];
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    for (int i = 0; i < s->batch_size; i++) {
        uint64_t r = bench_textgen_rand(s->gen);
        bool repeat = s->next_id > 0 && (double)(r >> 11) * 0x1.0p-53 < s->dup_ratio;
        uint64_t id = repeat ? bench_textgen_rand(s->gen) % s->next_id : s->next_id++;
        build_text(s, i, id);
    }
    if (lore_embedder_embed_batch(s->emb, (const char *const *)s->slot, s->slot_len,
                                  (size_t)s->batch_size, s->out) != LORE_OK)
        return bench_err_set(e, "embed: %s", lore_last_error());
    s->n_ops++;
    return 0;
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return s->batch_size;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    const state *s = opaque;
    lore_encoder_stats st;
    lore_embedder_get_stats(s->emb, &st);
    int rc = bench_encoder_metrics("texts_per_s", &st, s->n_ops, &s->settings, m, out);
    if (s->settings.cache_bytes > 0) {
        double lookups = (double)(st.cache_hits + st.cache_misses);
        rc |= bench_metric_add(out, "cache_hit_rate", lookups > 0 ? st.cache_hits / lookups : 0,
                               "ratio", BENCH_BETTER_HIGHER);
        rc |= bench_metric_add(out, "cache_entries", (double)st.cache_entries, "count",
                               BENCH_BETTER_NONE);
    }
    /* Texts the encoder ran per text asked: below 1 when the cache or in-call dedupe served some.
     */
    if (st.n_texts > 0)
        rc |= bench_metric_add(out, "encoded_ratio", (double)st.n_encoded / (double)st.n_texts,
                               "ratio", BENCH_BETTER_NONE);
    return rc ? -1 : 0;
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    return bench_encoder_labels(&s->settings, out);
}

const bench_workload bench_workload_embed = {
    .name = "embed",
    .description = "embed a batch of synthetic texts with a BERT-family encoder (texts/s)",
    .item_unit = "text",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .labels = labels,
    .teardown = teardown,
};
