/*
 * nli.c - workload: classify one batch of synthetic (premise, hypothesis)
 * pairs with an NLI cross-encoder. One item is one pair (pairs/s); the
 * latency is per batch.
 *
 * N_PAIRS pairs are generated in setup; a pair of seq_len tokens is
 * [CLS] premise [SEP] hypothesis [SEP] with the premise taking two thirds of
 * the words, as NLI premises are the longer side. Operations walk the pairs
 * in order; NLI results are not cached, so repeats cost the same as fresh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textgen.h"
#include "workloads/encoder_common.h"

#define N_PAIRS 256

static const char *const tier_choices[] = {"nli-minilm-l6", NULL};

static const bench_param_spec params[] = {
    {"tier", BENCH_PARAM_STRING, "nli-minilm-l6", 0, 0, tier_choices, "",
     "NLI tier (shapes of a public cross-encoder); synthetic weights unless model_dir is set"},
    {"model_dir", BENCH_PARAM_STRING, "", 0, 0, NULL, "",
     "Hugging Face model folder (BertForSequenceClassification) to load instead"},
    {"batch_size", BENCH_PARAM_INT, "8", 1, 4096, NULL, "pairs", "pairs per operation"},
    {"seq_len", BENCH_PARAM_INT, "128", 5, 512, NULL, "tokens",
     "tokens per pair, [CLS] and both [SEP] included"},
    BENCH_ENCODER_PARAM_SPECS,
};

typedef struct state {
    lore_nli *nli;
    lore_encoder_settings settings;
    int batch_size;
    char *premise[N_PAIRS], *hypothesis[N_PAIRS];
    size_t premise_len[N_PAIRS], hypothesis_len[N_PAIRS];
    const char **a, **b;
    size_t *a_len, *b_len;
    float *probs;
    size_t next;
    uint64_t n_ops;
} state;

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    lore_nli_free(s->nli);
    for (size_t i = 0; i < N_PAIRS; i++) {
        free(s->premise[i]);
        free(s->hypothesis[i]);
    }
    free(s->a);
    free(s->b);
    free(s->a_len);
    free(s->b_len);
    free(s->probs);
    free(s);
}

static int make_pairs(state *s, const bench_params *p, bench_err *e)
{
    bench_textgen *gen = NULL;
    int words = (int)bench_params_int(p, "seq_len") - 3;
    int a_words = (2 * words + 2) / 3, b_words = words - a_words;
    /* Lengths are counted by the model's own tokenizer. */
    int rc = bench_textgen_new(lore_nli_tokenizer(s->nli), (uint64_t)bench_params_int(p, "seed"), &gen, e);
    for (size_t i = 0; rc == 0 && i < N_PAIRS; i++) {
        s->premise[i] = bench_textgen_text(gen, a_words, &s->premise_len[i], e);
        s->hypothesis[i] =
            s->premise[i] ? bench_textgen_text(gen, b_words, &s->hypothesis_len[i], e) : NULL;
        if (!s->premise[i] || !s->hypothesis[i])
            rc = -1;
    }
    bench_textgen_free(gen);
    return rc;
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "nli: out of memory");
    lore_encoder_params np = lore_nli_default_params();
    bench_encoder_params(p, &np);
    np.max_tokens = (int)bench_params_int(p, "seq_len");
    s->batch_size = np.batch_size;
    if (lore_nli_new(&np, &s->nli) != LORE_OK) {
        bench_err_set(e, "nli: %s", lore_last_error());
        teardown(s);
        return -1;
    }
    lore_nli_get_settings(s->nli, &s->settings);
    size_t n = (size_t)s->batch_size;
    s->a = calloc(n, sizeof *s->a);
    s->b = calloc(n, sizeof *s->b);
    s->a_len = calloc(n, sizeof *s->a_len);
    s->b_len = calloc(n, sizeof *s->b_len);
    s->probs = malloc(n * (size_t)s->settings.dim * sizeof *s->probs);
    if (!s->a || !s->b || !s->a_len || !s->b_len || !s->probs) {
        bench_err_set(e, "nli: out of memory");
        teardown(s);
        return -1;
    }
    if (make_pairs(s, p, e) != 0) {
        teardown(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    for (int i = 0; i < s->batch_size; i++, s->next = (s->next + 1) % N_PAIRS) {
        s->a[i] = s->premise[s->next];
        s->a_len[i] = s->premise_len[s->next];
        s->b[i] = s->hypothesis[s->next];
        s->b_len[i] = s->hypothesis_len[s->next];
    }
    if (lore_nli_classify_batch(s->nli, s->a, s->a_len, s->b, s->b_len, (size_t)s->batch_size,
                                s->probs) != LORE_OK)
        return bench_err_set(e, "nli: %s", lore_last_error());
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
    lore_nli_get_stats(s->nli, &st);
    return bench_encoder_metrics("pairs_per_s", &st, s->n_ops, &s->settings, m, out);
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    return bench_encoder_labels(&s->settings, out);
}

const bench_workload bench_workload_nli = {
    .name = "nli",
    .description = "classify a batch of synthetic sentence pairs with an NLI cross-encoder "
                   "(pairs/s)",
    .item_unit = "pair",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .labels = labels,
    .teardown = teardown,
};
