/*
 * test_encoder.c - the embedder and NLI handles end to end: the forward pass
 * against golden outputs of the tiny BERT in tests/fixtures (computed by an
 * independent PyTorch reference, make_fixture.py), batch invariance across
 * batch composition, padding, sorting and thread policy, the cache, stats,
 * and parameter validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lore/lore.h"
#include "test_util.h"

/* The bar for agreement with the reference (float32 here, float64 there). */
#define GOLDEN_TOL 1e-4
/* A text's vector alone or in any batch: only float reassociation may differ. */
#define INVARIANCE_TOL 1e-5

static cJSON *golden;

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static int load_golden(void **state)
{
    (void)state;
    char *text = read_text(LORE_FIXTURES_DIR "/tiny-bert/golden.json");
    if (!text)
        return -1;
    golden = cJSON_Parse(text);
    free(text);
    return golden ? 0 : -1;
}

static int free_golden(void **state)
{
    (void)state;
    cJSON_Delete(golden);
    return 0;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        fail_msg("golden.json: missing key '%s'", key);
    return v;
}

static lore_embedder *new_embedder(const char *dir, int batch_size)
{
    lore_encoder_params p = lore_embedder_default_params();
    p.model_dir = dir;
    p.batch_size = batch_size;
    lore_embedder *e = NULL;
    lore_status s = lore_embedder_new(&p, &e);
    if (s != LORE_OK)
        fail_msg("lore_embedder_new(%s): %s: %s", dir, lore_strerror(s), lore_last_error());
    return e;
}

/* Checks every case of section (embeddings, embeddings_f16, ...) against the model folder. */
static void check_embeddings(const char *section, const char *vector_key, const char *dir)
{
    const cJSON *sec = get(golden, section);
    const cJSON *cases = get(sec, "cases");
    lore_embedder *e = new_embedder(dir, 4);
    int dim = lore_embedder_dim(e);
    int n = cJSON_GetArraySize(cases);
    assert_true(n >= 4);
    const char **texts = calloc((size_t)n, sizeof *texts);
    float *out = calloc((size_t)n * (size_t)dim, sizeof *out);
    assert_non_null(texts);
    assert_non_null(out);
    for (int i = 0; i < n; i++)
        texts[i] = cJSON_GetStringValue(get(cJSON_GetArrayItem(cases, i), "text"));
    /* All cases in one call: batches of 4 with mixed lengths. */
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, (size_t)n, out), LORE_OK);
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        const cJSON *ids = get(c, "ids");
        int32_t got[64];
        size_t n_ids = 0;
        assert_int_equal(lore_tokenizer_encode(lore_embedder_tokenizer(e), texts[i],
                                               strlen(texts[i]), 64, got, &n_ids, NULL),
                         LORE_OK);
        assert_int_equal(n_ids, cJSON_GetArraySize(ids));
        for (size_t j = 0; j < n_ids; j++)
            assert_int_equal(got[j], cJSON_GetArrayItem(ids, (int)j)->valueint);
        const cJSON *vec = get(c, vector_key);
        assert_int_equal(cJSON_GetArraySize(vec), dim);
        for (int j = 0; j < dim; j++)
            assert_double_equal(out[(size_t)i * dim + j], cJSON_GetArrayItem(vec, j)->valuedouble,
                                GOLDEN_TOL);
    }
    free(texts);
    free(out);
    lore_embedder_free(e);
}

static void test_golden_f32(void **state)
{
    (void)state;
    check_embeddings("embeddings", "vector", LORE_FIXTURES_DIR "/tiny-bert");
}

static void test_golden_f16(void **state)
{
    (void)state;
    check_embeddings("embeddings_f16", "vector", LORE_FIXTURES_DIR "/tiny-bert-f16");
}

static void test_golden_bf16(void **state)
{
    (void)state;
    check_embeddings("embeddings_bf16", "vector", LORE_FIXTURES_DIR "/tiny-bert-bf16");
}

static void copy_file(const char *from, const char *to)
{
    char *text = read_text(from);
    assert_non_null(text);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    /* Text files here; the weights are handled by copy_binary. */
    fputs(text, f);
    fclose(f);
    free(text);
}

static void copy_binary(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* A copy of tiny-bert whose sentence-transformers pooling config asks for [CLS]. */
static void test_golden_cls_pooling(void **state)
{
    (void)state;
    char dir[] = "/tmp/lore-test-cls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], sub[256];
    const char *files[] = {"config.json", "vocab.txt", "tokenizer_config.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char from[512];
        snprintf(from, sizeof from, "%s/tiny-bert/%s", LORE_FIXTURES_DIR, files[i]);
        copy_file(from, path);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    copy_binary(LORE_FIXTURES_DIR "/tiny-bert/model.safetensors", path);
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/config.json", sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": true,\n"
          " \"pooling_mode_mean_tokens\": false}\n",
          f);
    fclose(f);

    check_embeddings("embeddings", "cls_vector", dir);

    const char *all[] = {"config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors",
                         "1_Pooling/config.json"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, all[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
}

static void test_golden_nli(void **state)
{
    (void)state;
    const cJSON *sec = get(golden, "nli");
    const cJSON *cases = get(sec, "cases"), *labels = get(sec, "labels");
    lore_encoder_params p = lore_nli_default_params();
    p.model_dir = LORE_FIXTURES_DIR "/tiny-bert-nli";
    lore_nli *m = NULL;
    assert_int_equal(lore_nli_new(&p, &m), LORE_OK);
    int n_labels = lore_nli_n_labels(m);
    assert_int_equal(n_labels, cJSON_GetArraySize(labels));
    for (int i = 0; i < n_labels; i++)
        assert_string_equal(lore_nli_label(m, i),
                            cJSON_GetStringValue(cJSON_GetArrayItem(labels, i)));
    assert_null(lore_nli_label(m, n_labels));
    int n = cJSON_GetArraySize(cases);
    const char *a[16], *b[16];
    float probs[16 * 3];
    assert_true(n <= 16 && n_labels == 3);
    for (int i = 0; i < n; i++) {
        a[i] = cJSON_GetStringValue(get(cJSON_GetArrayItem(cases, i), "premise"));
        b[i] = cJSON_GetStringValue(get(cJSON_GetArrayItem(cases, i), "hypothesis"));
    }
    assert_int_equal(lore_nli_classify_batch(m, a, NULL, b, NULL, (size_t)n, probs), LORE_OK);
    for (int i = 0; i < n; i++) {
        const cJSON *want = get(cJSON_GetArrayItem(cases, i), "probs");
        for (int j = 0; j < 3; j++)
            assert_double_equal(probs[i * 3 + j], cJSON_GetArrayItem(want, j)->valuedouble,
                                GOLDEN_TOL);
    }
    lore_encoder_stats st;
    lore_nli_get_stats(m, &st);
    assert_int_equal(st.n_texts, n);
    lore_nli_free(m);
}

/* ---- batch invariance, stats, cache, validation ---------------------------
 * On the tiny fixture model: the code paths are the tiers', and it keeps the
 * suite fast under valgrind. One test runs a synthetic tier end to end. */

static const char *const mixed_texts[] = {
    "short one",
    "a somewhat longer text that says a few more things about nothing in particular",
    "x",
    "the quick brown fox jumps over the lazy dog, again and again and again, until the dog "
    "finally gets up and leaves the garden for good",
    "",
    "mid length text with some words",
    "another text, with punctuation! and questions? yes.",
};
#define N_MIXED (sizeof mixed_texts / sizeof mixed_texts[0])

static lore_embedder *tiny(int batch, int threads, lore_thread_mode mode, lore_padding pad,
                           bool sort, size_t cache_bytes)
{
    lore_encoder_params p = lore_embedder_default_params();
    p.model_dir = LORE_FIXTURES_DIR "/tiny-bert";
    p.batch_size = batch;
    p.n_threads = threads;
    p.thread_mode = mode;
    p.padding = pad;
    p.sort_by_length = sort;
    p.cache_bytes = cache_bytes;
    p.max_tokens = 48;
    lore_embedder *e = NULL;
    lore_status s = lore_embedder_new(&p, &e);
    if (s != LORE_OK)
        fail_msg("lore_embedder_new: %s: %s", lore_strerror(s), lore_last_error());
    return e;
}

static void embed_alone(lore_embedder *e, float *ref)
{
    int dim = lore_embedder_dim(e);
    for (size_t i = 0; i < N_MIXED; i++)
        assert_int_equal(
            lore_embedder_embed_batch(e, &mixed_texts[i], NULL, 1, ref + i * (size_t)dim), LORE_OK);
}

static void assert_vectors_close(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        assert_double_equal(a[i], b[i], tol);
}

static void test_batch_invariance(void **state)
{
    (void)state;
    lore_embedder *base = tiny(1, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    size_t dim = (size_t)lore_embedder_dim(base);
    assert_int_equal(dim, 32);
    float *ref = calloc(N_MIXED * dim, sizeof *ref), *got = calloc(N_MIXED * dim, sizeof *got);
    assert_non_null(ref);
    assert_non_null(got);
    embed_alone(base, ref);
    for (size_t i = 0; i < N_MIXED; i++) {
        double norm = 0;
        for (size_t j = 0; j < dim; j++) {
            assert_true(isfinite(ref[i * dim + j]));
            norm += (double)ref[i * dim + j] * ref[i * dim + j];
        }
        assert_double_equal(norm, 1.0, 1e-5);
    }
    /* Different texts give different vectors (a pass that ignores its input fails here). */
    double diff = 0;
    for (size_t j = 0; j < dim; j++)
        diff += fabs((double)ref[j] - ref[dim + j]);
    assert_true(diff > 1e-3);
    lore_embedder_free(base);

    const struct {
        int batch, threads;
        lore_thread_mode mode;
        lore_padding pad;
        bool sort;
    } configs[] = {
        {7, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true},
        {3, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, false},
        {7, 1, LORE_THREADS_BLAS, LORE_PADDING_BATCH, false},
        {4, 1, LORE_THREADS_BLAS, LORE_PADDING_MAX, true},
        {7, 2, LORE_THREADS_BLAS, LORE_PADDING_NONE, true},
        {7, 2, LORE_THREADS_WORKERS, LORE_PADDING_NONE, true},
        {5, 3, LORE_THREADS_WORKERS, LORE_PADDING_BATCH, true},
    };
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        lore_embedder *e = tiny(configs[c].batch, configs[c].threads, configs[c].mode,
                                configs[c].pad, configs[c].sort, 0);
        memset(got, 0, N_MIXED * dim * sizeof *got);
        assert_int_equal(lore_embedder_embed_batch(e, mixed_texts, NULL, N_MIXED, got), LORE_OK);
        assert_vectors_close(got, ref, N_MIXED * dim, INVARIANCE_TOL);
        lore_encoder_stats st;
        lore_embedder_get_stats(e, &st);
        assert_int_equal(st.n_texts, N_MIXED);
        assert_int_equal(st.n_encoded, N_MIXED);
        if (configs[c].pad == LORE_PADDING_NONE)
            assert_int_equal(st.n_tokens_padded, st.n_tokens);
        else
            assert_true(st.n_tokens_padded > st.n_tokens);
        if (configs[c].pad == LORE_PADDING_MAX)
            assert_int_equal(st.n_tokens_padded, 48 * (int64_t)N_MIXED);
        lore_embedder_free(e);
    }
    free(ref);
    free(got);
}

/* Stats say what ran: tokens as the tokenizer counts them, flops as the tier formula. */
static void test_stats_match_work(void **state)
{
    (void)state;
    lore_embedder *e = tiny(4, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    size_t dim = (size_t)lore_embedder_dim(e);
    float *out = calloc(N_MIXED * dim, sizeof *out);
    assert_non_null(out);
    int64_t tokens = 0;
    double flops = 0;
    lore_encoder_settings set;
    lore_embedder_get_settings(e, &set);
    for (size_t i = 0; i < N_MIXED; i++) {
        int32_t ids[64];
        size_t n = 0;
        assert_int_equal(lore_tokenizer_encode(lore_embedder_tokenizer(e), mixed_texts[i],
                                               strlen(mixed_texts[i]), 48, ids, &n, NULL),
                         LORE_OK);
        tokens += (int64_t)n;
        flops += lore_tier_flops(&set.shape, (int)n);
    }
    int64_t flops_before = lore_counter_read(LORE_COUNTER_EMBED_FLOPS);
    assert_int_equal(lore_embedder_embed_batch(e, mixed_texts, NULL, N_MIXED, out), LORE_OK);
    lore_encoder_stats st;
    lore_embedder_get_stats(e, &st);
    assert_int_equal(st.n_tokens, tokens);
    assert_double_equal(st.n_flops, flops, flops * 1e-12);
    assert_int_equal(st.n_batches, 2); /* 7 texts, batches of 4 */
    assert_double_equal((double)(lore_counter_read(LORE_COUNTER_EMBED_FLOPS) - flops_before), flops,
                        2.0 * st.n_batches);
    assert_false(set.synthetic_weights);
    assert_string_equal(set.shape.name, "tiny-bert");
    assert_int_equal(set.max_tokens, 48);
    assert_int_equal(st.workspace_grows, 0);
    lore_embedder_reset_stats(e);
    lore_embedder_get_stats(e, &st);
    assert_int_equal(st.n_tokens, 0);
    free(out);
    lore_embedder_free(e);
}

static void test_truncation_counted(void **state)
{
    (void)state;
    lore_embedder *e = tiny(2, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    float out[2 * 32];
    const char *texts[2] = {mixed_texts[3], mixed_texts[0]};
    char longer[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(longer, "many words here ");
    texts[0] = longer;
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, 2, out), LORE_OK);
    lore_encoder_stats st;
    lore_embedder_get_stats(e, &st);
    assert_int_equal(st.n_truncated, 1);
    lore_embedder_free(e);
}

static void test_cache_serves_repeats(void **state)
{
    (void)state;
    lore_embedder *plain = tiny(4, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    lore_embedder *cached = tiny(4, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 1024 * 1024);
    size_t dim = (size_t)lore_embedder_dim(plain);
    /* The same text three times in one call, and again in a second call. */
    const char *texts[] = {mixed_texts[1], mixed_texts[0], mixed_texts[1], mixed_texts[1]};
    float want[4 * 32], got[4 * 32], first[4 * 32];
    assert_int_equal(lore_embedder_embed_batch(plain, texts, NULL, 4, want), LORE_OK);
    assert_int_equal(lore_embedder_embed_batch(cached, texts, NULL, 4, first), LORE_OK);
    assert_vectors_close(first, want, 4 * dim, INVARIANCE_TOL);
    lore_encoder_stats st;
    lore_embedder_get_stats(cached, &st);
    assert_int_equal(st.n_texts, 4);
    assert_int_equal(st.n_encoded, 2); /* the repeats inside the call were folded */
    assert_int_equal(st.cache_misses, 4);
    assert_int_equal(st.cache_hits, 0);
    assert_int_equal(st.cache_entries, 2);

    memset(got, 0, sizeof got);
    assert_int_equal(lore_embedder_embed_batch(cached, texts, NULL, 4, got), LORE_OK);
    assert_vectors_close(got, first, 4 * dim, 0.0); /* served bit for bit from the cache */
    lore_embedder_get_stats(cached, &st);
    assert_int_equal(st.cache_hits, 4);
    assert_int_equal(st.n_encoded, 2);
    lore_encoder_settings set;
    lore_embedder_get_settings(cached, &set);
    assert_int_equal(set.cache_bytes, 1024 * 1024);
    lore_embedder_free(plain);
    lore_embedder_free(cached);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    lore_embedder *e = tiny(4, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    const char *texts[] = {"fine", "bad \xC3 byte"};
    float out[2 * 32];
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, 2, out), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "text 1"));
    lore_embedder_free(e);

    lore_encoder_params p = lore_embedder_default_params();
    p.model_dir = LORE_FIXTURES_DIR "/tiny-bert";
    p.utf8 = LORE_UTF8_REPLACE;
    assert_int_equal(lore_embedder_new(&p, &e), LORE_OK);
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, 2, out), LORE_OK);
    lore_encoder_stats st;
    lore_embedder_get_stats(e, &st);
    assert_int_equal(st.n_invalid_utf8, 1);
    lore_embedder_free(e);
}

static void expect_new_fails(lore_encoder_params p, lore_status want, const char *needle)
{
    lore_embedder *e = (lore_embedder *)&p; /* must be reset to NULL */
    assert_int_equal(lore_embedder_new(&p, &e), want);
    assert_null(e);
    if (!strstr(lore_last_error(), needle))
        fail_msg("error '%s' does not mention '%s'", lore_last_error(), needle);
}

static void test_bad_params(void **state)
{
    (void)state;
    lore_encoder_params p = lore_embedder_default_params();
    p.tier = "no-such-tier";
    expect_new_fails(p, LORE_EINVAL, "no-such-tier");
    p = lore_embedder_default_params();
    p.batch_size = 0;
    expect_new_fails(p, LORE_EINVAL, "batch_size");
    p = lore_embedder_default_params();
    p.n_threads = 0;
    expect_new_fails(p, LORE_EINVAL, "n_threads");
    p = lore_embedder_default_params();
    p.model_dir = LORE_FIXTURES_DIR "/tiny-bert";
    p.max_tokens = 100000;
    expect_new_fails(p, LORE_EINVAL, "max_tokens");
    p = lore_embedder_default_params();
    p.tier = "nli-minilm-l6";
    expect_new_fails(p, LORE_EINVAL, "NLI");
    p = lore_embedder_default_params();
    p.precision = LORE_PRECISION_BF16;
    expect_new_fails(p, LORE_EUNSUPPORTED, "bf16");
    p = lore_embedder_default_params();
    p.model_dir = LORE_FIXTURES_DIR "/tiny-bert";
    p.cache_bytes = 10;
    expect_new_fails(p, LORE_EINVAL, "10");
    p = lore_embedder_default_params();
    p.model_dir = "/nonexistent/model";
    expect_new_fails(p, LORE_EIO, "/nonexistent/model");

    lore_nli *m = (lore_nli *)&p;
    lore_encoder_params np = lore_nli_default_params();
    np.model_dir = LORE_FIXTURES_DIR "/tiny-bert";
    assert_int_equal(lore_nli_new(&np, &m), LORE_EINVAL);
    assert_null(m);
    assert_non_null(strstr(lore_last_error(), "embedding"));
}

static void test_bad_calls(void **state)
{
    (void)state;
    lore_embedder *e = tiny(2, 1, LORE_THREADS_BLAS, LORE_PADDING_NONE, true, 0);
    float out[32];
    const char *texts[] = {NULL};
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, 1, out), LORE_EINVAL);
    assert_int_equal(lore_embedder_embed_batch(e, NULL, NULL, 1, out), LORE_EINVAL);
    assert_int_equal(lore_embedder_embed_batch(e, mixed_texts, NULL, 1, NULL), LORE_EINVAL);
    assert_int_equal(lore_embedder_embed_batch(e, NULL, NULL, 0, NULL), LORE_OK);
    size_t zero = 0;
    assert_int_equal(lore_embedder_embed_batch(e, texts, &zero, 1, out), LORE_OK);
    lore_embedder_free(e);
    lore_embedder_free(NULL);
    lore_nli_free(NULL);
}

/* A built-in tier with synthetic weights: the shapes, labels and a finite, unit vector. */
static void test_synthetic_tier(void **state)
{
    (void)state;
    lore_encoder_params p = lore_embedder_default_params();
    p.tier = "minilm-l3";
    p.seed = 7;
    p.max_tokens = 16;
    lore_embedder *e = NULL;
    assert_int_equal(lore_embedder_new(&p, &e), LORE_OK);
    lore_encoder_settings set;
    lore_embedder_get_settings(e, &set);
    assert_true(set.synthetic_weights);
    assert_string_equal(set.shape.name, "minilm-l3");
    assert_non_null(strstr(set.source, "synthetic:minilm-l3"));
    assert_int_equal(set.dim, 384);
    assert_int_equal(lore_tokenizer_vocab_size(lore_embedder_tokenizer(e)), 30522);
    float out[2 * 384];
    const char *texts[] = {"one text of a few words", "another"};
    assert_int_equal(lore_embedder_embed_batch(e, texts, NULL, 2, out), LORE_OK);
    double norm = 0, diff = 0;
    for (int j = 0; j < 384; j++) {
        assert_true(isfinite(out[j]));
        norm += (double)out[j] * out[j];
        diff += fabs((double)out[j] - out[384 + j]);
    }
    assert_double_equal(norm, 1.0, 1e-5);
    assert_true(diff > 1e-3);
    lore_embedder_free(e);
}

static void test_tiers_table(void **state)
{
    (void)state;
    assert_true(lore_tier_count() >= 5);
    const char *required[] = {"minilm-l3", "minilm-l6", "bge-small", "bge-base", "nli-minilm-l6"};
    for (size_t i = 0; i < 5; i++)
        assert_non_null(lore_tier_find(required[i]));
    assert_null(lore_tier_find("nope"));
    assert_null(lore_tier_at(lore_tier_count()));
    const lore_tier *t = lore_tier_find("minilm-l6");
    assert_int_equal(t->n_layers, 6);
    assert_int_equal(t->hidden, 384);
    /* One 128-token sequence of MiniLM-L6: 6 * (128 * 2*384*(4*384 + 2*1536) + 4*128^2*384). */
    assert_double_equal(lore_tier_flops(t, 128),
                        6.0 * (128.0 * 2 * 384 * (4 * 384 + 2 * 1536) + 4.0 * 128 * 128 * 384),
                        1.0);
    for (size_t i = 0; i < lore_tier_count(); i++) {
        const lore_tier *x = lore_tier_at(i);
        assert_int_equal(x->hidden % x->n_heads, 0);
        assert_true(x->max_tokens <= x->max_positions);
        assert_true((x->kind == LORE_MODEL_NLI) == (x->n_labels > 0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers_table),          cmocka_unit_test(test_synthetic_tier),
        cmocka_unit_test(test_golden_f32),           cmocka_unit_test(test_golden_f16),
        cmocka_unit_test(test_golden_bf16),          cmocka_unit_test(test_golden_cls_pooling),
        cmocka_unit_test(test_golden_nli),           cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_stats_match_work),     cmocka_unit_test(test_truncation_counted),
        cmocka_unit_test(test_cache_serves_repeats), cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_bad_params),           cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, load_golden, free_golden);
}
