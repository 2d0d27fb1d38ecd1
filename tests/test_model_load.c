/*
 * test_model_load.c - the safetensors reader and the BERT weights loader.
 *
 * Oracles: the test reads the fixtures' safetensors bytes itself (its own
 * header parse and its own f16/bf16 decoding by ldexp, not the loader's bit
 * tricks) and compares every tensor the encoder uses, fused QKV included.
 * Broken folders are copies of tests/fixtures/tiny-bert with one thing
 * broken; safetensors files that lie in controlled ways come from a small
 * writer below. Each failure must give the exact status and a message naming
 * the file and, for tensors, the tensor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lore/lore.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "test_util.h"

#define FIX LORE_FIXTURES_DIR

/* ---- small file helpers -------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void path_of(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, 4096, "%s/%s", dir, name);
    assert_true(n > 0 && n < 4096);
}

/* A temp copy of a fixture folder (files only: the fixtures have no subfolders
 * the loader reads). Returns the malloc'd path. */
static char *copy_fixture(const char *name)
{
    char src[4096], tmpl[] = "/tmp/lore-model-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    dir = strdup(dir);
    assert_non_null(dir);
    path_of(src, FIX, name);
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char from[4096], to[4096];
        path_of(from, src, e->d_name);
        struct stat sb;
        if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        /* Only what a model folder holds; the fixture's generator and goldens stay put. */
        if (strcmp(e->d_name, "config.json") && strcmp(e->d_name, "model.safetensors") &&
            strcmp(e->d_name, "vocab.txt") && strcmp(e->d_name, "tokenizer_config.json"))
            continue;
        path_of(to, dir, e->d_name);
        size_t len;
        unsigned char *b = slurp(from, &len);
        spit(to, b, len);
        free(b);
    }
    closedir(d);
    return dir;
}

static void rm_rf(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        path_of(p, dir, e->d_name);
        struct stat sb;
        assert_int_equal(lstat(p, &sb), 0);
        if (S_ISDIR(sb.st_mode))
            rm_rf(p);
        else
            assert_int_equal(unlink(p), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- an independent safetensors reader and a writer that can lie ---------- */

typedef struct trec {
    char name[160];
    char dtype[16];
    int ndim;
    int64_t shape[LORE__ST_MAX_DIMS];
    unsigned char *bytes;
    size_t nbytes;
    bool lie; /* write begin/end below instead of the true offsets */
    int64_t begin, end;
} trec;

typedef struct tlist {
    trec *t;
    size_t n;
} tlist;

static void tlist_free(tlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->t[i].bytes);
    free(l->t);
    l->t = NULL;
    l->n = 0;
}

static trec *tlist_add(tlist *l, const char *name, const char *dtype, int ndim,
                       const int64_t *shape, const void *bytes, size_t nbytes)
{
    l->t = realloc(l->t, (l->n + 1) * sizeof *l->t);
    assert_non_null(l->t);
    trec *r = &l->t[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->dtype, sizeof r->dtype, "%s", dtype);
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        r->shape[i] = shape[i];
    r->bytes = malloc(nbytes ? nbytes : 1);
    assert_non_null(r->bytes);
    if (nbytes)
        memcpy(r->bytes, bytes, nbytes);
    r->nbytes = nbytes;
    return r;
}

static trec *tlist_find(tlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->t[i].name, name))
            return &l->t[i];
    return NULL;
}

static void tlist_remove(tlist *l, const char *name)
{
    trec *r = tlist_find(l, name);
    assert_non_null(r);
    free(r->bytes);
    size_t i = (size_t)(r - l->t);
    memmove(r, r + 1, (l->n - i - 1) * sizeof *r);
    l->n--;
}

/* Reads every tensor of a safetensors file with cJSON and plain byte copies. */
static tlist read_tensors(const char *path)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_true(len >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    assert_true(n <= len - 8);
    cJSON *h = cJSON_ParseWithLength((const char *)b + 8, (size_t)n);
    assert_non_null(h);
    tlist l = {0};
    const cJSON *e;
    cJSON_ArrayForEach(e, h)
    {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        const cJSON *sh = cJSON_GetObjectItem(e, "shape");
        const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
        int64_t shape[LORE__ST_MAX_DIMS];
        int nd = cJSON_GetArraySize(sh);
        for (int i = 0; i < nd; i++)
            shape[i] = (int64_t)cJSON_GetArrayItem(sh, i)->valuedouble;
        size_t beg = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        size_t end = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        tlist_add(&l, e->string, cJSON_GetObjectItem(e, "dtype")->valuestring, nd, shape,
                  b + 8 + n + beg, end - beg);
    }
    cJSON_Delete(h);
    free(b);
    return l;
}

typedef struct wopts {
    size_t data_align;   /* pad the header so 8 + N is this mod 8 (default 0) */
    bool pad_misalign;   /* when set, 8 + N % 8 == data_align */
    bool lie_header_len; /* write header_len below instead of the true one */
    uint64_t header_len;
    const char *raw_header; /* write this header text verbatim */
} wopts;

/* Writes l as a safetensors file: tensors packed in list order. */
static void write_tensors(const char *path, const tlist *l, const wopts *o)
{
    static const wopts none = {0};
    if (!o)
        o = &none;
    size_t cap = 1 << 16, hn = 0;
    char *h = malloc(cap);
    assert_non_null(h);
    if (o->raw_header) {
        hn = (size_t)snprintf(h, cap, "%s", o->raw_header);
    } else {
        int64_t at = 0;
        hn += (size_t)snprintf(h + hn, cap - hn, "{\"__metadata__\":{\"format\":\"pt\"}");
        for (size_t i = 0; i < l->n; i++) {
            const trec *r = &l->t[i];
            hn += (size_t)snprintf(h + hn, cap - hn, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                   r->name, r->dtype);
            for (int d = 0; d < r->ndim; d++)
                hn += (size_t)snprintf(h + hn, cap - hn, "%s%lld", d ? "," : "",
                                       (long long)r->shape[d]);
            int64_t b = r->lie ? r->begin : at, e = r->lie ? r->end : at + (int64_t)r->nbytes;
            hn += (size_t)snprintf(h + hn, cap - hn, "],\"data_offsets\":[%lld,%lld]}",
                                   (long long)b, (long long)e);
            at += (int64_t)r->nbytes;
            assert_true(hn < cap - 256);
        }
        hn += (size_t)snprintf(h + hn, cap - hn, "}");
    }
    /* Pad with spaces as the reference writer does, to the asked alignment. */
    size_t want = o->pad_misalign ? o->data_align : 0;
    while ((8 + hn) % 8 != want)
        h[hn++] = ' ';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = o->lie_header_len ? o->header_len : hn;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(n >> (8 * i));
    assert_int_equal(fwrite(len8, 1, 8, f), 8);
    assert_int_equal(fwrite(h, 1, hn, f), hn);
    if (!o->raw_header)
        for (size_t i = 0; i < l->n; i++)
            assert_int_equal(fwrite(l->t[i].bytes, 1, l->t[i].nbytes, f), l->t[i].nbytes);
    assert_int_equal(fclose(f), 0);
    free(h);
}

/* ---- reference decoding -------------------------------------------------- */

static double f16_ref(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double bf16_ref(uint16_t h)
{
    int e = (h >> 7) & 255, m = h & 127;
    double v = e == 255 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return (h & 0x8000) ? -v : v;
}

static double rec_value(const trec *r, size_t i)
{
    const unsigned char *p = r->bytes;
    if (!strcmp(r->dtype, "F32")) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    if (!strcmp(r->dtype, "F16"))
        return f16_ref(h);
    assert_string_equal(r->dtype, "BF16");
    return bf16_ref(h);
}

static size_t rec_count(const trec *r)
{
    size_t n = 1;
    for (int i = 0; i < r->ndim; i++)
        n *= (size_t)r->shape[i];
    return n;
}

/* Every element of the tensor named name must equal got[0..] exactly. */
static void expect_tensor(tlist *l, const char *name, const float *got, size_t n)
{
    trec *r = tlist_find(l, name);
    if (!r)
        fail_msg("fixture has no tensor '%s'", name);
    assert_non_null(got);
    assert_int_equal(rec_count(r), n);
    for (size_t i = 0; i < n; i++) {
        float want = (float)rec_value(r, i);
        if (memcmp(&want, &got[i], sizeof want) != 0)
            fail_msg("%s[%zu] = %.9g, file says %.9g", name, i, got[i], want);
    }
}

/* The whole model against the file's bytes; prefix is "bert." or "". */
static void expect_model_matches(const lore__model *m, const char *dir, const char *prefix,
                                 const char *ln_w, const char *ln_b)
{
    char p[4096], n[256];
    path_of(p, dir, "model.safetensors");
    tlist l = read_tensors(p);
    const size_t H = (size_t)m->shape.hidden, F = (size_t)m->shape.ffn;
#define T(fmt, ...) (snprintf(n, sizeof n, "%s" fmt, prefix, __VA_ARGS__), n)
    expect_tensor(&l, T("%s", "embeddings.word_embeddings.weight"), m->word_emb,
                  (size_t)m->shape.vocab_size * H);
    expect_tensor(&l, T("%s", "embeddings.position_embeddings.weight"), m->pos_emb,
                  (size_t)m->shape.max_positions * H);
    expect_tensor(&l, T("%s", "embeddings.token_type_embeddings.weight"), m->type_emb,
                  (size_t)m->shape.type_vocab_size * H);
    expect_tensor(&l, T("embeddings.LayerNorm.%s", ln_w), m->emb_ln_g, H);
    expect_tensor(&l, T("embeddings.LayerNorm.%s", ln_b), m->emb_ln_b, H);
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int i = 0; i < m->shape.n_layers; i++) {
        const lore__bert_layer *L = &m->layers[i];
        for (int q = 0; q < 3; q++) {
            /* Rows of Q, then K, then V: K of layer i starts at qkv_w[H*H]. */
            expect_tensor(&l, T("encoder.layer.%d.attention.self.%s.weight", i, qkv[q]),
                          L->qkv_w + (size_t)q * H * H, H * H);
            expect_tensor(&l, T("encoder.layer.%d.attention.self.%s.bias", i, qkv[q]),
                          L->qkv_b + (size_t)q * H, H);
        }
        expect_tensor(&l, T("encoder.layer.%d.attention.output.dense.weight", i), L->out_w, H * H);
        expect_tensor(&l, T("encoder.layer.%d.attention.output.dense.bias", i), L->out_b, H);
        expect_tensor(&l, T("encoder.layer.%d.attention.output.LayerNorm.%s", i, ln_w), L->ln1_g,
                      H);
        expect_tensor(&l, T("encoder.layer.%d.attention.output.LayerNorm.%s", i, ln_b), L->ln1_b,
                      H);
        expect_tensor(&l, T("encoder.layer.%d.intermediate.dense.weight", i), L->ffn_in_w, F * H);
        expect_tensor(&l, T("encoder.layer.%d.intermediate.dense.bias", i), L->ffn_in_b, F);
        expect_tensor(&l, T("encoder.layer.%d.output.dense.weight", i), L->ffn_out_w, H * F);
        expect_tensor(&l, T("encoder.layer.%d.output.dense.bias", i), L->ffn_out_b, H);
        expect_tensor(&l, T("encoder.layer.%d.output.LayerNorm.%s", i, ln_w), L->ln2_g, H);
        expect_tensor(&l, T("encoder.layer.%d.output.LayerNorm.%s", i, ln_b), L->ln2_b, H);
    }
    if (m->shape.kind == LORE_MODEL_NLI) {
        const size_t NL = (size_t)m->shape.n_labels;
        expect_tensor(&l, T("%s", "pooler.dense.weight"), m->pooler_w, H * H);
        expect_tensor(&l, T("%s", "pooler.dense.bias"), m->pooler_b, H);
        expect_tensor(&l, "classifier.weight", m->cls_w, NL * H);
        expect_tensor(&l, "classifier.bias", m->cls_b, NL);
    }
#undef T
    tlist_free(&l);
}

static bool in_arena(const lore__model *m, const float *p)
{
    return p >= m->arena && p < m->arena + m->arena_floats;
}

static bool in_map(const lore__model *m, const void *p)
{
    const char *b = m->st->map;
    return (const char *)p >= b && (const char *)p < b + m->st->map_bytes;
}

/* Mappings of files whose path contains needle (0 once every loader closed its file). */
static int mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void fixture_dir(char *buf, const char *name)
{
    path_of(buf, FIX, name);
}

/* ---- loading the fixtures ------------------------------------------------ */

static void expect_tiny_shape(const lore__model *m)
{
    assert_int_equal(m->shape.n_layers, 2);
    assert_int_equal(m->shape.hidden, 32);
    assert_int_equal(m->shape.n_heads, 4);
    assert_int_equal(m->shape.ffn, 64);
    assert_int_equal(m->shape.vocab_size, 267);
    assert_int_equal(m->shape.max_positions, 64);
    assert_int_equal(m->shape.type_vocab_size, 2);
    assert_int_equal(m->shape.max_tokens, 64);
    assert_int_equal(m->shape.act, LORE_ACT_GELU);
    assert_double_equal(m->shape.ln_eps, 1e-12, 1e-18);
    assert_false(m->synthetic);
    assert_non_null(m->tokenizer);
    assert_int_equal(lore_tokenizer_vocab_size(m->tokenizer), 267);
}

static void test_load_tiny_bert_f32(void **state)
{
    (void)state;
    char dir[4096];
    fixture_dir(dir, "tiny-bert");
    lore__model *m = NULL;
    assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
    expect_tiny_shape(m);
    assert_int_equal(m->shape.kind, LORE_MODEL_EMBEDDING);
    assert_int_equal(m->shape.pooling, LORE_POOLING_MEAN);
    assert_int_equal(m->shape.n_labels, 0);
    assert_null(m->pooler_w);
    assert_null(m->cls_w);
    assert_null(m->labels);
    assert_string_equal(m->dtype, "f32");
    assert_string_equal(m->shape.name, "tiny-bert");
    assert_ptr_equal(m->shape.name, m->name_buf);
    assert_string_equal(m->shape.model_id, dir); /* no _name_or_path in this config */
    assert_string_equal(m->source, dir);
    /* Aligned f32 is used in place; only the fused QKV blocks are copied. */
    assert_true(in_map(m, m->word_emb));
    assert_true(in_map(m, m->layers[1].ffn_out_w));
    assert_true(in_arena(m, m->layers[1].qkv_w));
    assert_int_equal(m->arena_floats, 2 * (3 * 32 * 32 + 3 * 32));
    expect_model_matches(m, dir, "", "weight", "bias");
    assert_int_equal(mapped("tiny-bert/model.safetensors"), 1);
    lore__model_free(m);
    assert_int_equal(mapped("tiny-bert/model.safetensors"), 0);
}

static void test_load_tiny_bert_f16_bf16(void **state)
{
    (void)state;
    const char *names[2] = {"tiny-bert-f16", "tiny-bert-bf16"};
    const char *dts[2] = {"f16", "bf16"};
    for (int i = 0; i < 2; i++) {
        char dir[4096];
        fixture_dir(dir, names[i]);
        lore__model *m = NULL;
        assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
        expect_tiny_shape(m);
        assert_string_equal(m->dtype, dts[i]);
        assert_string_equal(m->shape.name, names[i]);
        assert_true(in_arena(m, m->word_emb));
        assert_true(in_arena(m, m->layers[0].ln2_b));
        expect_model_matches(m, dir, "", "weight", "bias");
        lore__model_free(m);
    }
}

static void test_load_tiny_bert_nli(void **state)
{
    (void)state;
    char dir[4096];
    fixture_dir(dir, "tiny-bert-nli");
    lore__model *m = NULL;
    assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
    expect_tiny_shape(m);
    assert_int_equal(m->shape.kind, LORE_MODEL_NLI);
    assert_int_equal(m->shape.pooling, LORE_POOLING_CLS);
    assert_int_equal(m->shape.n_labels, 3);
    assert_string_equal(m->labels[0], "contradiction");
    assert_string_equal(m->labels[1], "entailment");
    assert_string_equal(m->labels[2], "neutral");
    expect_model_matches(m, dir, "bert.", "weight", "bias");
    lore__model_free(m);
}

/* TF-era names (gamma/beta), no position_ids, every f32 tensor misaligned. */
static void test_load_old_names_unaligned(void **state)
{
    (void)state;
    char *dir = copy_fixture("tiny-bert");
    char p[4096];
    path_of(p, dir, "model.safetensors");
    tlist l = read_tensors(p);
    tlist_remove(&l, "embeddings.position_ids");
    for (size_t i = 0; i < l.n; i++) {
        char *s = strstr(l.t[i].name, "LayerNorm.");
        if (!s)
            continue;
        s += strlen("LayerNorm.");
        if (!strcmp(s, "weight"))
            strcpy(s, "gamma");
        else if (!strcmp(s, "bias"))
            strcpy(s, "beta");
    }
    wopts o = {.pad_misalign = true, .data_align = 2};
    write_tensors(p, &l, &o);
    tlist_free(&l);

    lore__model *m = NULL;
    assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
    assert_true(in_arena(m, m->word_emb));
    assert_true(in_arena(m, m->layers[1].ln2_g));
    assert_int_equal((uintptr_t)m->word_emb % 4, 0);
    expect_model_matches(m, dir, "", "gamma", "beta");
    lore__model_free(m);
    rm_rf(dir);
    free(dir);
}

/* Rewrites config.json of dir through edit(root). */
static void edit_config(const char *dir, const char *file, void (*edit)(cJSON *))
{
    char p[4096];
    path_of(p, dir, file);
    size_t len;
    unsigned char *b = slurp(p, &len);
    cJSON *root = cJSON_Parse((const char *)b);
    free(b);
    assert_non_null(root);
    edit(root);
    char *text = cJSON_Print(root);
    assert_non_null(text);
    spit(p, text, strlen(text));
    free(text);
    cJSON_Delete(root);
}

static void put_name_or_path(cJSON *r)
{
    cJSON_AddStringToObject(r, "_name_or_path", "acme/tiny-bert-v2");
    cJSON_ReplaceItemInObject(r, "hidden_act", cJSON_CreateString("gelu_new"));
    cJSON_ReplaceItemInObject(r, "layer_norm_eps", cJSON_CreateNumber(1e-5));
}

static void no_lower_case(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "do_lower_case", cJSON_CreateFalse());
}

static void test_load_folder_metadata(void **state)
{
    (void)state;
    char *dir = copy_fixture("tiny-bert");
    char p[4096];
    edit_config(dir, "config.json", put_name_or_path);
    edit_config(dir, "tokenizer_config.json", no_lower_case);
    path_of(p, dir, "1_Pooling");
    assert_int_equal(mkdir(p, 0700), 0);
    path_of(p, dir, "1_Pooling/config.json");
    const char *pool = "{\"word_embedding_dimension\": 32, \"pooling_mode_cls_token\": true,"
                       " \"pooling_mode_mean_tokens\": false, \"pooling_mode_max_tokens\": false}";
    spit(p, pool, strlen(pool));
    path_of(p, dir, "sentence_bert_config.json");
    const char *sbert = "{\"max_seq_length\": 48, \"do_lower_case\": false}";
    spit(p, sbert, strlen(sbert));

    lore__model *m = NULL;
    assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
    assert_string_equal(m->shape.model_id, "acme/tiny-bert-v2");
    assert_int_equal(m->shape.act, LORE_ACT_GELU_TANH);
    assert_double_equal(m->shape.ln_eps, 1e-5, 1e-12);
    assert_int_equal(m->shape.pooling, LORE_POOLING_CLS);
    assert_int_equal(m->shape.max_tokens, 48);
    /* do_lower_case false: "The" keeps its capital and finds its own token. */
    int32_t ids[8];
    size_t n = 0;
    assert_int_equal(lore_tokenizer_encode(m->tokenizer, "The", 3, 8, ids, &n, NULL), LORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], lore_tokenizer_token_id(m->tokenizer, "The"));
    assert_int_not_equal(ids[1], lore_tokenizer_token_id(m->tokenizer, "the"));
    lore__model_free(m);

    /* The same folder with the default tokenizer config lower-cases. */
    path_of(p, dir, "tokenizer_config.json");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
    assert_int_equal(lore_tokenizer_encode(m->tokenizer, "The", 3, 8, ids, &n, NULL), LORE_OK);
    assert_int_equal(ids[1], lore_tokenizer_token_id(m->tokenizer, "the"));
    lore__model_free(m);
    rm_rf(dir);
    free(dir);
}

/*
 * Every f16 and bf16 bit pattern through the loader: a model folder whose
 * word embeddings ([267][256] > 65536 elements) hold 0x0000..0xffff in order.
 */
static void write_config(const char *dir, int hidden, int heads, int ffn, int vocab, int positions)
{
    char p[4096], text[1024];
    path_of(p, dir, "config.json");
    int n = snprintf(text, sizeof text,
                     "{\"hidden_size\": %d, \"num_hidden_layers\": 1, \"num_attention_heads\": %d,"
                     " \"intermediate_size\": %d, \"vocab_size\": %d,"
                     " \"max_position_embeddings\": %d}",
                     hidden, heads, ffn, vocab, positions);
    spit(p, text, (size_t)n);
}

static void add_zeros(tlist *l, const char *name, const char *dtype, int64_t d0, int64_t d1)
{
    size_t es = strcmp(dtype, "F32") ? 2 : 4;
    int64_t shape[2] = {d0, d1};
    size_t n = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    unsigned char *z = calloc(n, es);
    assert_non_null(z);
    tlist_add(l, name, dtype, d1 > 0 ? 2 : 1, shape, z, n * es);
    free(z);
}

static void test_f16_bf16_every_bit_pattern(void **state)
{
    (void)state;
    const int H = 256, V = 267, F = 8, P = 4;
    const char *dts[2] = {"F16", "BF16"};
    for (int k = 0; k < 2; k++) {
        char *dir = copy_fixture("tiny-bert");
        char p[4096];
        path_of(p, dir, "tokenizer_config.json");
        assert_int_equal(unlink(p), 0);
        write_config(dir, H, 4, F, V, P);
        tlist l = {0};
        size_t n = (size_t)V * H;
        unsigned char *w = malloc(2 * n);
        assert_non_null(w);
        for (size_t i = 0; i < n; i++) {
            w[2 * i] = (unsigned char)(i & 0xff);
            w[2 * i + 1] = (unsigned char)((i >> 8) & 0xff);
        }
        int64_t shape[2] = {V, H};
        tlist_add(&l, "embeddings.word_embeddings.weight", dts[k], 2, shape, w, 2 * n);
        free(w);
        add_zeros(&l, "embeddings.position_embeddings.weight", dts[k], P, H);
        add_zeros(&l, "embeddings.token_type_embeddings.weight", dts[k], 2, H);
        add_zeros(&l, "embeddings.LayerNorm.weight", dts[k], H, 0);
        add_zeros(&l, "embeddings.LayerNorm.bias", dts[k], H, 0);
        static const char *const qkv[3] = {"query", "key", "value"};
        char nm[128];
        for (int q = 0; q < 3; q++) {
            snprintf(nm, sizeof nm, "encoder.layer.0.attention.self.%s.weight", qkv[q]);
            add_zeros(&l, nm, dts[k], H, H);
            snprintf(nm, sizeof nm, "encoder.layer.0.attention.self.%s.bias", qkv[q]);
            add_zeros(&l, nm, dts[k], H, 0);
        }
        add_zeros(&l, "encoder.layer.0.attention.output.dense.weight", dts[k], H, H);
        add_zeros(&l, "encoder.layer.0.attention.output.dense.bias", dts[k], H, 0);
        add_zeros(&l, "encoder.layer.0.attention.output.LayerNorm.weight", dts[k], H, 0);
        add_zeros(&l, "encoder.layer.0.attention.output.LayerNorm.bias", dts[k], H, 0);
        add_zeros(&l, "encoder.layer.0.intermediate.dense.weight", dts[k], F, H);
        add_zeros(&l, "encoder.layer.0.intermediate.dense.bias", dts[k], F, 0);
        add_zeros(&l, "encoder.layer.0.output.dense.weight", dts[k], H, F);
        add_zeros(&l, "encoder.layer.0.output.dense.bias", dts[k], H, 0);
        add_zeros(&l, "encoder.layer.0.output.LayerNorm.weight", dts[k], H, 0);
        add_zeros(&l, "encoder.layer.0.output.LayerNorm.bias", dts[k], H, 0);
        path_of(p, dir, "model.safetensors");
        write_tensors(p, &l, NULL);
        tlist_free(&l);

        lore__model *m = NULL;
        assert_int_equal(lore__model_load(dir, NULL, &m), LORE_OK);
        assert_string_equal(m->dtype, k ? "bf16" : "f16");
        assert_int_equal(m->shape.hidden, H);
        assert_int_equal(m->shape.max_tokens, P);
        for (uint32_t i = 0; i < 65536; i++) {
            double want = k ? bf16_ref((uint16_t)i) : f16_ref((uint16_t)i);
            float got = m->word_emb[i];
            if (isnan(want)) {
                if (!isnan(got))
                    fail_msg("%s 0x%04x: got %g, want NaN", dts[k], i, got);
                continue;
            }
            if ((float)want != got || !signbit(want) != !signbit(got))
                fail_msg("%s 0x%04x: got %.9g, want %.9g", dts[k], i, got, want);
        }
        /* Spot checks that do not lean on the reference decoder. */
        const float *w16 = m->word_emb;
        if (k == 0) {
            assert_true(w16[0x0001] == 0x1p-24f);   /* smallest subnormal */
            assert_true(w16[0x03ff] == 0x3ffp-24f); /* largest subnormal */
            assert_true(w16[0x0400] == 0x1p-14f);   /* smallest normal */
            assert_true(w16[0x3c00] == 1.0f);
            assert_true(w16[0x7bff] == 65504.0f);
            assert_true(isinf(w16[0x7c00]) && w16[0x7c00] > 0);
            assert_true(isinf(w16[0xfc00]) && w16[0xfc00] < 0);
            assert_true(isnan(w16[0x7e00]) && isnan(w16[0x7c01]));
            assert_true(w16[0x8000] == 0.0f && signbit(w16[0x8000]));
            assert_true(w16[0xc000] == -2.0f);
        } else {
            assert_true(w16[0x0001] == 0x1p-133f);
            assert_true(w16[0x0080] == 0x1p-126f);
            assert_true(w16[0x3f80] == 1.0f);
            assert_true(isinf(w16[0x7f80]) && isnan(w16[0x7fc0]) && isnan(w16[0x7f81]));
            assert_true(w16[0xc000] == -2.0f);
        }
        lore__model_free(m);
        rm_rf(dir);
        free(dir);
    }
}

/* ---- broken folders ------------------------------------------------------ */

typedef struct breakage {
    const char *what;
    const char *fixture; /* NULL: "tiny-bert" */
    void (*apply)(const char *dir);
    lore_status status;
    const char *needles[4]; /* substrings lore_last_error() must hold; "@" is the folder */
} breakage;

static void rm_file(const char *dir, const char *name)
{
    char p[4096];
    path_of(p, dir, name);
    assert_int_equal(unlink(p), 0);
}

static void brk_no_config(const char *dir)
{
    rm_file(dir, "config.json");
}

static void brk_no_safetensors(const char *dir)
{
    rm_file(dir, "model.safetensors");
}

static void brk_no_vocab(const char *dir)
{
    rm_file(dir, "vocab.txt");
}

static void truncate_st(const char *dir, long keep)
{
    char p[4096];
    path_of(p, dir, "model.safetensors");
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, keep >= 0 ? keep : sb.st_size + keep), 0);
}

static void brk_cut_in_header(const char *dir)
{
    truncate_st(dir, 100);
}

static void brk_cut_in_data(const char *dir)
{
    truncate_st(dir, -100);
}

static void brk_cut_to_4(const char *dir)
{
    truncate_st(dir, 4);
}

static void brk_empty(const char *dir)
{
    truncate_st(dir, 0);
}

/* Reads the fixture copy's tensors, lets fn break them, writes them back. */
static void rewrite(const char *dir, void (*fn)(tlist *, wopts *))
{
    char p[4096];
    path_of(p, dir, "model.safetensors");
    tlist l = read_tensors(p);
    wopts o = {0};
    fn(&l, &o);
    write_tensors(p, &l, &o);
    tlist_free(&l);
}

static void lie_header_len(tlist *l, wopts *o)
{
    (void)l;
    o->lie_header_len = true;
    o->header_len = 987654321;
}

static void brk_header_len(const char *dir)
{
    rewrite(dir, lie_header_len);
}

static void lie_offsets(tlist *l, wopts *o)
{
    (void)o;
    /* The last tensor claims 4 bytes fewer than its shape needs. */
    int64_t at = 0;
    for (size_t i = 0; i + 1 < l->n; i++)
        at += (int64_t)l->t[i].nbytes;
    trec *r = &l->t[l->n - 1];
    r->lie = true;
    r->begin = at;
    r->end = at + (int64_t)r->nbytes - 4;
}

static void brk_offsets_size(const char *dir)
{
    char p[4096];
    path_of(p, dir, "model.safetensors");
    tlist l = read_tensors(p);
    /* Move the tensor to the end so the lie is in a known place. */
    trec *r = tlist_find(&l, "encoder.layer.1.output.LayerNorm.bias");
    assert_non_null(r);
    trec keep = *r;
    keep.bytes = malloc(r->nbytes);
    assert_non_null(keep.bytes);
    memcpy(keep.bytes, r->bytes, r->nbytes);
    tlist_remove(&l, keep.name);
    tlist_add(&l, keep.name, keep.dtype, keep.ndim, keep.shape, keep.bytes, keep.nbytes);
    free(keep.bytes);
    wopts o = {0};
    lie_offsets(&l, &o);
    write_tensors(p, &l, &o);
    tlist_free(&l);
}

static void overlap(tlist *l, wopts *o)
{
    (void)o;
    /* The key weight of layer 0 claims the query weight's bytes (same size). */
    int64_t at = 0, q_at = -1;
    trec *k = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (!strcmp(l->t[i].name, "encoder.layer.0.attention.self.query.weight"))
            q_at = at;
        if (!strcmp(l->t[i].name, "encoder.layer.0.attention.self.key.weight"))
            k = &l->t[i];
        at += (int64_t)l->t[i].nbytes;
    }
    assert_true(q_at >= 0);
    assert_non_null(k);
    k->lie = true;
    k->begin = q_at + 8;
    k->end = q_at + 8 + (int64_t)k->nbytes;
}

static void brk_overlap(const char *dir)
{
    rewrite(dir, overlap);
}

static void wrong_shape(tlist *l, wopts *o)
{
    (void)o;
    trec *r = tlist_find(l, "encoder.layer.1.intermediate.dense.weight");
    assert_non_null(r);
    r->shape[0] = 32;
    r->shape[1] = 64;
}

static void brk_wrong_shape(const char *dir)
{
    rewrite(dir, wrong_shape);
}

static void unknown_dtype(tlist *l, wopts *o)
{
    (void)o;
    trec *r = tlist_find(l, "encoder.layer.0.output.dense.bias");
    assert_non_null(r);
    strcpy(r->dtype, "Q4_0");
}

static void brk_unknown_dtype(const char *dir)
{
    rewrite(dir, unknown_dtype);
}

static void int_dtype(tlist *l, wopts *o)
{
    (void)o;
    trec *r = tlist_find(l, "embeddings.LayerNorm.weight");
    assert_non_null(r);
    unsigned char *b = calloc(r->nbytes, 2);
    assert_non_null(b);
    free(r->bytes);
    r->bytes = b;
    r->nbytes *= 2;
    strcpy(r->dtype, "I64");
}

static void brk_int_dtype(const char *dir)
{
    rewrite(dir, int_dtype);
}

static void drop_tensor(tlist *l, wopts *o)
{
    (void)o;
    tlist_remove(l, "encoder.layer.1.output.dense.weight");
}

static void brk_missing_tensor(const char *dir)
{
    rewrite(dir, drop_tensor);
}

static void dup_tensor(tlist *l, wopts *o)
{
    (void)o;
    trec *r = tlist_find(l, "embeddings.LayerNorm.bias");
    assert_non_null(r);
    trec c = *r;
    tlist_add(l, c.name, c.dtype, c.ndim, c.shape, c.bytes, c.nbytes);
}

static void brk_duplicate_tensor(const char *dir)
{
    rewrite(dir, dup_tensor);
}

static void huge_shape(tlist *l, wopts *o)
{
    (void)o;
    trec *r = tlist_find(l, "embeddings.LayerNorm.bias");
    assert_non_null(r);
    r->ndim = 3;
    r->shape[0] = (int64_t)1 << 40;
    r->shape[1] = (int64_t)1 << 40;
    r->shape[2] = 2;
}

static void brk_overflow_shape(const char *dir)
{
    rewrite(dir, huge_shape);
}

static void bad_json(tlist *l, wopts *o)
{
    (void)l;
    o->raw_header = "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]";
}

static void brk_header_not_json(const char *dir)
{
    rewrite(dir, bad_json);
}

static void edit_vocab(const char *dir, const char *from, const char *to)
{
    char p[4096];
    path_of(p, dir, "vocab.txt");
    size_t len;
    unsigned char *b = slurp(p, &len);
    char *at = strstr((char *)b, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - (char *)b), fl = strlen(from), tl = strlen(to);
    char *o = malloc(len - fl + tl);
    assert_non_null(o);
    memcpy(o, b, pre);
    memcpy(o + pre, to, tl);
    memcpy(o + pre + tl, b + pre + fl, len - pre - fl);
    spit(p, o, len - fl + tl);
    free(o);
    free(b);
}

static void brk_vocab_no_unk(const char *dir)
{
    edit_vocab(dir, "[UNK]\n", "[UNKNOWN]\n");
}

static void brk_vocab_size(const char *dir)
{
    edit_vocab(dir, "[MASK]\n", "[MASK]\nzebra\n");
}

static void cfg_heads(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "num_attention_heads", cJSON_CreateNumber(5));
}

static void cfg_string_number(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "intermediate_size", cJSON_CreateString("64"));
}

static void cfg_relu(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "hidden_act", cJSON_CreateString("relu"));
}

static void cfg_roberta(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "model_type", cJSON_CreateString("roberta"));
}

static void cfg_no_vocab(cJSON *r)
{
    cJSON_DeleteItemFromObject(r, "vocab_size");
}

static void cfg_fraction(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "num_hidden_layers", cJSON_CreateNumber(2.5));
}

static void cfg_eps(cJSON *r)
{
    cJSON_ReplaceItemInObject(r, "layer_norm_eps", cJSON_CreateNumber(-1));
}

static void cfg_two_labels(cJSON *r)
{
    cJSON_DeleteItemFromObject(r, "id2label");
    cJSON *m = cJSON_AddObjectToObject(r, "id2label");
    cJSON_AddStringToObject(m, "0", "yes");
    cJSON_AddStringToObject(m, "1", "no");
}

static void cfg_bad_label_id(cJSON *r)
{
    cJSON_DeleteItemFromObject(r, "id2label");
    cJSON *m = cJSON_AddObjectToObject(r, "id2label");
    cJSON_AddStringToObject(m, "0", "a");
    cJSON_AddStringToObject(m, "1", "b");
    cJSON_AddStringToObject(m, "7", "c");
}

static void cfg_hidden_differs(cJSON *r)
{
    /* Consistent config, wrong for the file: every tensor shape disagrees. */
    cJSON_ReplaceItemInObject(r, "hidden_size", cJSON_CreateNumber(64));
}

static void brk_cfg_heads(const char *dir)
{
    edit_config(dir, "config.json", cfg_heads);
}

static void brk_cfg_string(const char *dir)
{
    edit_config(dir, "config.json", cfg_string_number);
}

static void brk_cfg_relu(const char *dir)
{
    edit_config(dir, "config.json", cfg_relu);
}

static void brk_cfg_roberta(const char *dir)
{
    edit_config(dir, "config.json", cfg_roberta);
}

static void brk_cfg_no_vocab(const char *dir)
{
    edit_config(dir, "config.json", cfg_no_vocab);
}

static void brk_cfg_fraction(const char *dir)
{
    edit_config(dir, "config.json", cfg_fraction);
}

static void brk_cfg_eps(const char *dir)
{
    edit_config(dir, "config.json", cfg_eps);
}

static void brk_cfg_two_labels(const char *dir)
{
    edit_config(dir, "config.json", cfg_two_labels);
}

static void brk_cfg_bad_label_id(const char *dir)
{
    edit_config(dir, "config.json", cfg_bad_label_id);
}

static void brk_cfg_hidden(const char *dir)
{
    edit_config(dir, "config.json", cfg_hidden_differs);
}

static void brk_cfg_not_json(const char *dir)
{
    char p[4096];
    path_of(p, dir, "config.json");
    spit(p, "{\"hidden_size\": 32,,}", 21);
}

static void brk_pooling_max(const char *dir)
{
    char p[4096];
    path_of(p, dir, "1_Pooling");
    assert_int_equal(mkdir(p, 0700), 0);
    path_of(p, dir, "1_Pooling/config.json");
    const char *t = "{\"pooling_mode_cls_token\": false, \"pooling_mode_max_tokens\": true}";
    spit(p, t, strlen(t));
}

static void brk_tok_config_type(const char *dir)
{
    char p[4096];
    path_of(p, dir, "tokenizer_config.json");
    const char *t = "{\"do_lower_case\": \"yes\"}";
    spit(p, t, strlen(t));
}

static void no_pooler(tlist *l, wopts *o)
{
    (void)o;
    tlist_remove(l, "bert.pooler.dense.weight");
}

static void brk_nli_no_pooler(const char *dir)
{
    rewrite(dir, no_pooler);
}

static const breakage breakages[] = {
    {"no config.json", NULL, brk_no_config, LORE_EIO, {"@/config.json", "cannot open"}},
    {"no model.safetensors", NULL, brk_no_safetensors, LORE_EIO, {"@/model.safetensors"}},
    {"no vocab.txt", NULL, brk_no_vocab, LORE_EIO, {"@/vocab.txt"}},
    {"cut in header",
     NULL,
     brk_cut_in_header,
     LORE_ECORRUPT,
     {"@/model.safetensors", "header length 4048", "92 bytes"}},
    {"cut in data",
     NULL,
     brk_cut_in_data,
     LORE_ECORRUPT,
     {"@/model.safetensors", "tensor '", "past the data region"}},
    {"4-byte file", NULL, brk_cut_to_4, LORE_ECORRUPT, {"@/model.safetensors", "4 bytes"}},
    {"empty file", NULL, brk_empty, LORE_ECORRUPT, {"@/model.safetensors", "0 bytes"}},
    {"header length past the file",
     NULL,
     brk_header_len,
     LORE_ECORRUPT,
     {"@/model.safetensors", "987654321"}},
    {"offsets lie about the size",
     NULL,
     brk_offsets_size,
     LORE_ECORRUPT,
     {"@/model.safetensors", "tensor 'encoder.layer.1.output.LayerNorm.bias'", "hold 124 bytes",
      "needs 128"}},
    {"offsets overlap",
     NULL,
     brk_overlap,
     LORE_ECORRUPT,
     {"@/model.safetensors", "encoder.layer.0.attention.self.key.weight", "overlap",
      "encoder.layer.0.attention.self.query.weight"}},
    {"wrong shape",
     NULL,
     brk_wrong_shape,
     LORE_ECORRUPT,
     {"@/model.safetensors", "tensor 'encoder.layer.1.intermediate.dense.weight'",
      "shape [32, 64], expected [64, 32]"}},
    {"unknown dtype",
     NULL,
     brk_unknown_dtype,
     LORE_ECORRUPT,
     {"@/model.safetensors", "tensor 'encoder.layer.0.output.dense.bias'", "unknown dtype 'Q4_0'"}},
    {"needed tensor is I64",
     NULL,
     brk_int_dtype,
     LORE_EUNSUPPORTED,
     {"@/model.safetensors", "tensor 'embeddings.LayerNorm.weight'", "I64"}},
    {"missing tensor",
     NULL,
     brk_missing_tensor,
     LORE_ECORRUPT,
     {"@/model.safetensors", "missing tensor 'encoder.layer.1.output.dense.weight'"}},
    {"duplicate tensor",
     NULL,
     brk_duplicate_tensor,
     LORE_ECORRUPT,
     {"@/model.safetensors", "embeddings.LayerNorm.bias"}},
    {"shape overflows",
     NULL,
     brk_overflow_shape,
     LORE_ECORRUPT,
     {"@/model.safetensors", "embeddings.LayerNorm.bias", "overflow"}},
    {"header is not JSON",
     NULL,
     brk_header_not_json,
     LORE_ECORRUPT,
     {"@/model.safetensors", "JSON"}},
    {"vocab without [UNK]", NULL, brk_vocab_no_unk, LORE_ECORRUPT, {"@/vocab.txt", "[UNK]"}},
    {"vocab size differs",
     NULL,
     brk_vocab_size,
     LORE_ECORRUPT,
     {"@/vocab.txt", "268", "vocab_size 267"}},
    {"heads do not divide hidden",
     NULL,
     brk_cfg_heads,
     LORE_ECORRUPT,
     {"@/config.json", "field 'num_attention_heads'", "32", "5"}},
    {"string for a number",
     NULL,
     brk_cfg_string,
     LORE_ECORRUPT,
     {"@/config.json", "field 'intermediate_size'", "string"}},
    {"relu", NULL, brk_cfg_relu, LORE_EUNSUPPORTED, {"@/config.json", "hidden_act", "'relu'"}},
    {"roberta", NULL, brk_cfg_roberta, LORE_EUNSUPPORTED, {"@/config.json", "roberta"}},
    {"no vocab_size",
     NULL,
     brk_cfg_no_vocab,
     LORE_ECORRUPT,
     {"@/config.json", "field 'vocab_size' is missing"}},
    {"fractional layers",
     NULL,
     brk_cfg_fraction,
     LORE_ECORRUPT,
     {"@/config.json", "field 'num_hidden_layers'", "2.5"}},
    {"negative eps", NULL, brk_cfg_eps, LORE_ECORRUPT, {"@/config.json", "layer_norm_eps", "-1"}},
    {"config not JSON", NULL, brk_cfg_not_json, LORE_ECORRUPT, {"@/config.json", "JSON"}},
    {"config disagrees with tensors",
     NULL,
     brk_cfg_hidden,
     LORE_ECORRUPT,
     {"@/model.safetensors", "embeddings.word_embeddings.weight", "shape [267, 32]",
      "expected [267, 64]"}},
    {"max pooling",
     NULL,
     brk_pooling_max,
     LORE_EUNSUPPORTED,
     {"@/1_Pooling/config.json", "pooling_mode_max_tokens"}},
    {"do_lower_case a string",
     NULL,
     brk_tok_config_type,
     LORE_ECORRUPT,
     {"@/tokenizer_config.json", "do_lower_case"}},
    {"NLI: 2 labels for 3 rows",
     "tiny-bert-nli",
     brk_cfg_two_labels,
     LORE_ECORRUPT,
     {"@/config.json", "id2label", "2 labels", "3 rows"}},
    {"NLI: label id 7",
     "tiny-bert-nli",
     brk_cfg_bad_label_id,
     LORE_ECORRUPT,
     {"@/config.json", "id2label", "'7'"}},
    {"NLI: no pooler",
     "tiny-bert-nli",
     brk_nli_no_pooler,
     LORE_ECORRUPT,
     {"@/model.safetensors", "missing tensor 'bert.pooler.dense.weight'"}},
};

static void test_broken_folders(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof breakages / sizeof breakages[0]; i++) {
        const breakage *b = &breakages[i];
        char *dir = copy_fixture(b->fixture ? b->fixture : "tiny-bert");
        b->apply(dir);
        lore__model *m = (lore__model *)&m; /* must be cleared on failure */
        lore_status s = lore__model_load(dir, NULL, &m);
        const char *msg = lore_last_error();
        if (s != b->status)
            fail_msg("%s: status %d (%s), expected %d; message: %s", b->what, s, lore_strerror(s),
                     b->status, msg);
        assert_null(m);
        for (int k = 0; k < 4 && b->needles[k]; k++) {
            char want[4096];
            const char *nd = b->needles[k];
            if (nd[0] == '@')
                snprintf(want, sizeof want, "%s%s", dir, nd + 1);
            else
                snprintf(want, sizeof want, "%s", nd);
            if (!strstr(msg, want))
                fail_msg("%s: message lacks \"%s\": %s", b->what, want, msg);
        }
        assert_int_equal(mapped(dir), 0);
        rm_rf(dir);
        free(dir);
    }
}

/* The safetensors layer on its own: lookups, dtypes, bad arguments. */
static void test_safetensors_open(void **state)
{
    (void)state;
    char p[4096];
    path_of(p, FIX, "tiny-bert/model.safetensors");
    lore__safetensors *st = NULL;
    assert_int_equal(lore__safetensors_open(p, &st), LORE_OK);
    tlist l = read_tensors(p);
    assert_int_equal(st->n_tensors, l.n);
    for (size_t i = 0; i < l.n; i++) {
        const lore__st_tensor *t = lore__safetensors_find(st, l.t[i].name);
        assert_non_null(t);
        assert_string_equal(t->name, l.t[i].name);
        assert_string_equal(t->dtype_name, l.t[i].dtype);
        assert_int_equal(t->ndim, l.t[i].ndim);
        assert_int_equal(t->nbytes, l.t[i].nbytes);
        assert_memory_equal(t->data, l.t[i].bytes, l.t[i].nbytes);
    }
    const lore__st_tensor *pid = lore__safetensors_find(st, "embeddings.position_ids");
    assert_non_null(pid);
    assert_int_equal(pid->dtype, LORE__DT_OTHER);
    assert_int_equal(pid->n_elem, 64);
    assert_null(lore__safetensors_find(st, "nope"));
    assert_null(lore__safetensors_find(st, ""));
    tlist_free(&l);
    lore__safetensors_close(st);
    lore__safetensors_close(NULL);

    assert_int_equal(lore__dtype_size(LORE__DT_F32), 4);
    assert_int_equal(lore__dtype_size(LORE__DT_F16), 2);
    assert_int_equal(lore__dtype_size(LORE__DT_BF16), 2);
    assert_int_equal(lore__dtype_size(LORE__DT_OTHER), 0);

    st = (lore__safetensors *)&st;
    assert_int_equal(lore__safetensors_open("/nonexistent/x.safetensors", &st), LORE_EIO);
    assert_null(st);
    assert_non_null(strstr(lore_last_error(), "/nonexistent/x.safetensors"));
    assert_int_equal(lore__safetensors_open(NULL, &st), LORE_EINVAL);
    assert_int_equal(lore__safetensors_open(FIX, &st), LORE_EIO); /* a folder */

    /* Empty header object and zero-size tensors are valid. */
    char tmpl[] = "/tmp/lore-st-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    path_of(p, tmpl, "x.safetensors");
    tlist e = {0};
    int64_t zero_shape[2] = {0, 7};
    tlist_add(&e, "empty", "F32", 2, zero_shape, NULL, 0);
    int64_t s3[1] = {3};
    tlist_add(&e, "u8", "U8", 1, s3, "abc", 3);
    tlist_add(&e, "scalar", "BOOL", 0, s3, "\1", 1);
    write_tensors(p, &e, NULL);
    tlist_free(&e);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_OK);
    assert_int_equal(st->n_tensors, 3);
    assert_int_equal(lore__safetensors_find(st, "empty")->n_elem, 0);
    assert_int_equal(lore__safetensors_find(st, "scalar")->n_elem, 1);
    assert_int_equal(lore__safetensors_find(st, "scalar")->ndim, 0);
    assert_memory_equal(lore__safetensors_find(st, "u8")->data, "abc", 3);
    lore__safetensors_close(st);
    wopts o = {.raw_header = "{}"};
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_OK);
    assert_int_equal(st->n_tensors, 0);
    assert_null(lore__safetensors_find(st, "a"));
    lore__safetensors_close(st);
    /* A header that is JSON but not an object, and trailing garbage. */
    o.raw_header = "[1, 2]";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "not a JSON object"));
    o.raw_header = "{} x";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "trailing"));
    o.raw_header = "{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 0]}}";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "tensor 't': shape[0]"));
    o.raw_header = "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "[4, 0]"));
    o.raw_header = "{\"t\": {\"dtype\": 3, \"shape\": [1], \"data_offsets\": [0, 4]}}";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "tensor 't': 'dtype'"));
    o.raw_header = "{\"t\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                   "\"data_offsets\": [0, 0]}}";
    write_tensors(p, &e, &o);
    assert_int_equal(lore__safetensors_open(p, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "9 dimensions"));
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rmdir(tmpl), 0);
}

static void test_load_bad_arguments(void **state)
{
    (void)state;
    lore__model *m = (lore__model *)&m;
    assert_int_equal(lore__model_load(NULL, NULL, &m), LORE_EINVAL);
    assert_null(m);
    assert_int_equal(lore__model_load("", NULL, &m), LORE_EINVAL);
    assert_int_equal(lore__model_load(FIX, NULL, NULL), LORE_EINVAL);
    assert_int_equal(lore__model_load("/nonexistent-lore-model", NULL, &m), LORE_EIO);
    assert_non_null(strstr(lore_last_error(), "/nonexistent-lore-model/config.json"));
    char longp[700];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    assert_int_equal(lore__model_load(longp, NULL, &m), LORE_EINVAL);
    assert_int_equal(lore__model_synthetic(NULL, 1, NULL, &m), LORE_EINVAL);
    lore__model_free(NULL);
}

/* ---- synthetic weights --------------------------------------------------- */

static void stats(const float *x, size_t n, double *mean, double *sd, double *maxabs)
{
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
        if (fabs(x[i]) > mx)
            mx = fabs(x[i]);
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    *maxabs = mx;
}

static void expect_const(const float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != v)
            fail_msg("element %zu is %g, expected %g", i, x[i], v);
}

static void test_synthetic_minilm_l3(void **state)
{
    (void)state;
    const lore_tier *t = lore_tier_find("minilm-l3");
    assert_non_null(t);
    lore__model *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(lore__model_synthetic(t, 7, NULL, &a), LORE_OK);
    assert_int_equal(lore__model_synthetic(t, 7, NULL, &b), LORE_OK);
    assert_int_equal(lore__model_synthetic(t, 8, NULL, &c), LORE_OK);

    assert_true(a->synthetic);
    assert_null(a->st);
    assert_string_equal(a->dtype, "f32");
    assert_string_equal(a->source, "synthetic:minilm-l3:seed=7");
    assert_string_equal(a->shape.name, "minilm-l3");
    assert_ptr_equal(a->shape.name, a->name_buf);
    assert_string_equal(a->shape.model_id, t->model_id);
    assert_ptr_equal(a->shape.model_id, a->model_id_buf);
    assert_int_equal(a->shape.n_layers, t->n_layers);
    assert_int_equal(a->shape.hidden, t->hidden);
    assert_int_equal(a->shape.n_heads, t->n_heads);
    assert_int_equal(a->shape.ffn, t->ffn);
    assert_int_equal(a->shape.vocab_size, t->vocab_size);
    assert_int_equal(a->shape.max_positions, t->max_positions);
    assert_int_equal(a->shape.type_vocab_size, t->type_vocab_size);
    assert_int_equal(a->shape.max_tokens, t->max_tokens);
    assert_int_equal(a->shape.pooling, t->pooling);
    assert_int_equal(a->shape.kind, LORE_MODEL_EMBEDDING);
    assert_null(a->pooler_w);
    assert_null(a->labels);
    assert_int_equal(lore_tokenizer_vocab_size(a->tokenizer), (size_t)t->vocab_size);

    const size_t H = 384, F = 1536, V = 30522, L = 3;
    size_t expect_floats =
        (V + 512 + 2) * H + 2 * H + L * (4 * H * H + 4 * H + 4 * H + 2 * F * H + F + H);
    assert_int_equal(a->arena_floats, expect_floats);
    /* Every pointer inside the arena, and no two regions overlapping. */
    assert_true(in_arena(a, a->word_emb) && in_arena(a, a->layers[2].ln2_b + H - 1));

    /* Same seed, same bytes (tokenizer included); another seed, other bytes. */
    assert_int_equal(memcmp(a->arena, b->arena, a->arena_floats * sizeof(float)), 0);
    assert_int_not_equal(memcmp(a->arena, c->arena, a->arena_floats * sizeof(float)), 0);
    assert_string_equal(lore_tokenizer_token(a->tokenizer, 5000),
                        lore_tokenizer_token(b->tokenizer, 5000));
    size_t differ = 0;
    for (size_t i = 0; i < 1000; i++)
        differ += a->word_emb[i] != c->word_emb[i];
    assert_true(differ > 990);

    /* BERT's init scale. */
    double mean, sd, mx;
    stats(a->word_emb, V * H, &mean, &sd, &mx);
    assert_double_equal(mean, 0.0, 1e-4);
    assert_double_equal(sd, 0.02, 2e-4);
    assert_true(mx <= 0.02 * sqrt(3.0) + 1e-6);
    stats(a->layers[1].qkv_w, 3 * H * H, &mean, &sd, &mx);
    assert_double_equal(sd, 0.02, 5e-4);
    stats(a->layers[2].ffn_out_w, H * F, &mean, &sd, &mx);
    assert_double_equal(sd, 0.02, 5e-4);
    expect_const(a->emb_ln_g, H, 1.0f);
    expect_const(a->emb_ln_b, H, 0.0f);
    for (size_t l = 0; l < L; l++) {
        expect_const(a->layers[l].qkv_b, 3 * H, 0.0f);
        expect_const(a->layers[l].ffn_in_b, F, 0.0f);
        expect_const(a->layers[l].ln1_g, H, 1.0f);
        expect_const(a->layers[l].ln2_b, H, 0.0f);
    }
    lore__model_free(a);
    lore__model_free(b);
    lore__model_free(c);
}

static void test_synthetic_nli_and_bad_tiers(void **state)
{
    (void)state;
    /* The NLI tier's head at a small width (the real one is 66M floats). */
    lore_tier t = *lore_tier_find("nli-minilm-l6");
    t.name = "nli-small";
    t.n_layers = 1;
    t.hidden = 64;
    t.n_heads = 4;
    t.ffn = 128;
    t.vocab_size = 1000;
    t.max_positions = 32;
    lore__model *m = NULL;
    assert_int_equal(lore__model_synthetic(&t, 3, NULL, &m), LORE_OK);
    assert_int_equal(m->shape.kind, LORE_MODEL_NLI);
    assert_int_equal(m->shape.n_labels, 3);
    assert_string_equal(m->labels[0], "contradiction");
    assert_string_equal(m->labels[1], "entailment");
    assert_string_equal(m->labels[2], "neutral");
    assert_true(in_arena(m, m->pooler_w) && in_arena(m, m->cls_b + 2));
    expect_const(m->cls_b, 3, 0.0f);
    double mean, sd, mx;
    stats(m->pooler_w, 64 * 64, &mean, &sd, &mx);
    assert_double_equal(sd, 0.02, 2e-3);
    assert_string_equal(m->source, "synthetic:nli-small:seed=3");
    lore__model_free(m);

    lore_tier bad = t;
    bad.n_heads = 5;
    m = (lore__model *)&m;
    assert_int_equal(lore__model_synthetic(&bad, 3, NULL, &m), LORE_EINVAL);
    assert_null(m);
    assert_non_null(strstr(lore_last_error(), "nli-small"));
    bad = t;
    bad.n_labels = 0;
    assert_int_equal(lore__model_synthetic(&bad, 3, NULL, &m), LORE_EINVAL);
    bad = t;
    bad.hidden = -64;
    assert_int_equal(lore__model_synthetic(&bad, 3, NULL, &m), LORE_EINVAL);
}

/* ---- allocation failures inside cJSON ------------------------------------ */

static int g_countdown; /* fail when it reaches 0; < 0 never */
static int g_live;

static void *failing_malloc(size_t n)
{
    if (g_countdown == 0)
        return NULL;
    if (g_countdown > 0)
        g_countdown--;
    void *p = malloc(n);
    if (p)
        g_live++;
    return p;
}

static void counting_free(void *p)
{
    if (p)
        g_live--;
    free(p);
}

static void test_json_oom_sweep(void **state)
{
    (void)state;
    char dir[4096];
    fixture_dir(dir, "tiny-bert-nli");
    cJSON_Hooks hooks = {failing_malloc, counting_free};
    cJSON_InitHooks(&hooks);
    int n;
    for (n = 0; n < 5000; n++) {
        g_countdown = n;
        g_live = 0;
        lore__model *m = NULL;
        lore_status s = lore__model_load(dir, NULL, &m);
        if (g_live != 0) {
            cJSON_InitHooks(NULL);
            fail_msg("cJSON allocation %d failed: %d blocks leaked", n, g_live);
        }
        if (s == LORE_OK) {
            lore__model_free(m);
            break;
        }
        assert_null(m);
    }
    cJSON_InitHooks(NULL);
    assert_true(n > 100); /* the sweep went through both headers and config.json */
    assert_true(n < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_open),
        cmocka_unit_test(test_load_tiny_bert_f32),
        cmocka_unit_test(test_load_tiny_bert_f16_bf16),
        cmocka_unit_test(test_load_tiny_bert_nli),
        cmocka_unit_test(test_load_old_names_unaligned),
        cmocka_unit_test(test_load_folder_metadata),
        cmocka_unit_test(test_f16_bf16_every_bit_pattern),
        cmocka_unit_test(test_broken_folders),
        cmocka_unit_test(test_load_bad_arguments),
        cmocka_unit_test(test_synthetic_minilm_l3),
        cmocka_unit_test(test_synthetic_nli_and_bad_tiers),
        cmocka_unit_test(test_json_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
