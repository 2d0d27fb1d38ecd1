/*
 * weights.c - a BERT encoder's weights: read from a Hugging Face model folder
 * (config.json + model.safetensors + vocab.txt) or made synthetic for a tier.
 *
 * Loading runs in two passes over the tensors the encoder needs. The first
 * finds each one, checks its dtype and exact shape against config.json, and
 * plans where it will live: in place in the mapping (f32 and 4-byte aligned)
 * or at an offset in one owned arena (f16, bf16, unaligned f32, and the fused
 * QKV blocks, which need Q, K and V side by side). The second pass allocates
 * the arena once and converts. Nothing is allocated per tensor.
 *
 * Fused layout per layer (row-major [out][in], as PyTorch's Linear):
 *   qkv_w  [3H][H]  rows 0..H-1 = query.weight, H..2H-1 = key, 2H..3H-1 = value
 *   qkv_b  [3H]     query.bias, key.bias, value.bias
 *
 * Synthetic weights follow BERT's initialisation scale (matrices with std
 * 0.02, biases 0, LayerNorm gamma 1 and beta 0) from one xoshiro256** stream
 * seeded by splitmix64, filled in a fixed order: the same seed gives the same
 * bytes on every machine.
 */
#include "core/lore_int.h"

#include "model/weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights.c uses little-endian safetensors data in place"
#endif

/* Config files are a few KiB; anything past this is not a config. */
#define CFG_MAX_BYTES ((long)16 << 20)
/* Bounds on config fields: generous for any BERT, small enough that every
 * product of two of them fits comfortably in 64 bits. */
#define CFG_MAX_HIDDEN 65536
#define CFG_MAX_LAYERS 1024
#define CFG_MAX_FFN (1 << 20)
#define CFG_MAX_VOCAB (1 << 24)
#define CFG_MAX_POSITIONS (1 << 20)
#define CFG_MAX_TYPES 1024
#define CFG_MAX_LABELS 1024
/* BERT's learned positions stop at 512 in every public checkpoint this reads. */
#define DEFAULT_MAX_TOKENS 512

/* ---- f16 / bf16 conversion ---------------------------------------------- */

static float bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE binary16 to binary32, exact for every input (subnormals, inf, NaN payloads). */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf or NaN: all-ones exponent, mantissa kept (quiet bit included) */
        return bits_to_f32(sign | 0x7f800000u | man << 13);
    if (exp != 0) /* normal: rebias 15 -> 127 */
        return bits_to_f32(sign | (exp + 112) << 23 | man << 13);
    if (man == 0)
        return bits_to_f32(sign);
    /* Subnormal man * 2^-24: shift the leading one up to the implicit bit. */
    uint32_t e = 113; /* the exponent the value would have with man's top bit at 0x400 */
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return bits_to_f32(sign | e << 23 | (man & 0x3ffu) << 13);
}

/* bfloat16 is the top half of a binary32: widening is a shift, exact for all inputs. */
static float bf16_to_f32(uint16_t h)
{
    return bits_to_f32((uint32_t)h << 16);
}

/* Converts n elements of a tensor (any alignment) into dst. */
static void convert_tensor(const lore__st_tensor *t, float *dst)
{
    const unsigned char *p = t->data;
    size_t n = (size_t)t->n_elem;
    switch (t->dtype) {
    case LORE__DT_F32:
        memcpy(dst, p, n * sizeof(float));
        break;
    case LORE__DT_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case LORE__DT_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    default: /* excluded by the dtype check before planning */
        break;
    }
}

/* ---- small file and JSON helpers ----------------------------------------- */

static lore_status join_path(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return lore__fail(LORE_EINVAL, "%s/%s: path too long (at most %zu bytes)", dir, name,
                          cap - 1);
    return LORE_OK;
}

/*
 * Reads and parses the JSON file at path into *root. When optional and the
 * file does not exist, *root is NULL and the call succeeds.
 */
static lore_status read_json(const char *path, bool optional, cJSON **root)
{
    *root = NULL;
    lore_status s = LORE_OK;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT)
            return LORE_OK;
        return lore__fail(LORE_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        s = lore__fail(LORE_EIO, "%s: cannot seek: %s", path, strerror(errno));
        goto done;
    }
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        s = lore__fail(LORE_EIO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if (len > CFG_MAX_BYTES) {
        s = lore__fail(LORE_ECORRUPT, "%s: %ld bytes, too large for a config (at most %ld)", path,
                       len, CFG_MAX_BYTES);
        goto done;
    }
    text = malloc((size_t)len + 1);
    if (!text) {
        s = lore__fail(LORE_ENOMEM, "%s: out of memory reading %ld bytes", path, len);
        goto done;
    }
    if (fread(text, 1, (size_t)len, f) != (size_t)len) {
        s = lore__fail(LORE_EIO, "%s: short read", path);
        goto done;
    }
    text[len] = '\0';
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, (size_t)len, &end, false);
    if (!*root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        s = lore__fail(LORE_ECORRUPT, "%s: not valid JSON (at byte %zu)", path, at);
        goto done;
    }
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = lore__fail(LORE_ECORRUPT, "%s: trailing bytes after the JSON (at byte %zu)", path,
                           (size_t)(p - text));
            goto done;
        }
    }
    if (!cJSON_IsObject(*root))
        s = lore__fail(LORE_ECORRUPT, "%s: not a JSON object", path);
done:
    if (s != LORE_OK) {
        cJSON_Delete(*root);
        *root = NULL;
    }
    free(text);
    fclose(f);
    return s;
}

static const char *json_kind(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsObject(j))
        return "an object";
    return "a number";
}

/* Integer field in [lo, hi]; absent gives def when !required. */
static lore_status cfg_int(const char *path, const cJSON *root, const char *key, bool required,
                           int def, int lo, int hi, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j) {
        if (required)
            return lore__fail(LORE_ECORRUPT, "%s: field '%s' is missing", path, key);
        *out = def;
        return LORE_OK;
    }
    if (!cJSON_IsNumber(j)) {
        if (cJSON_IsString(j))
            return lore__fail(LORE_ECORRUPT,
                              "%s: field '%s': expected an integer, got the string \"%.40s\"", path,
                              key, j->valuestring);
        return lore__fail(LORE_ECORRUPT, "%s: field '%s': expected an integer, got %s", path, key,
                          json_kind(j));
    }
    double d = j->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return lore__fail(LORE_ECORRUPT, "%s: field '%s': %.17g is not an integer in [%d, %d]",
                          path, key, d, lo, hi);
    *out = (int)d;
    return LORE_OK;
}

/* Optional boolean field; *out untouched when absent. */
static lore_status cfg_bool(const char *path, const cJSON *root, const char *key, bool *present,
                            bool *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *present = j != NULL;
    if (!j)
        return LORE_OK;
    if (!cJSON_IsBool(j))
        return lore__fail(LORE_ECORRUPT, "%s: field '%s': expected true or false, got %s", path,
                          key, json_kind(j));
    *out = cJSON_IsTrue(j);
    return LORE_OK;
}

/* Optional string field; NULL when absent. */
static lore_status cfg_string(const char *path, const cJSON *root, const char *key,
                              const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (!j)
        return LORE_OK;
    if (!cJSON_IsString(j))
        return lore__fail(LORE_ECORRUPT, "%s: field '%s': expected a string, got %s", path, key,
                          json_kind(j));
    *out = j->valuestring;
    return LORE_OK;
}

/* ---- config.json --------------------------------------------------------- */

/* Reads and validates the shape of the model; id2label stays in root for later. */
static lore_status read_config(const char *path, const cJSON *root, lore_tier *shape)
{
    lore_status s;
    const char *str;
    if ((s = cfg_string(path, root, "model_type", &str)) != LORE_OK)
        return s;
    if (str && strcmp(str, "bert") != 0)
        return lore__fail(LORE_EUNSUPPORTED,
                          "%s: field 'model_type': '%.40s' is not supported (only 'bert')", path,
                          str);
    if ((s = cfg_string(path, root, "position_embedding_type", &str)) != LORE_OK)
        return s;
    if (str && strcmp(str, "absolute") != 0)
        return lore__fail(LORE_EUNSUPPORTED,
                          "%s: field 'position_embedding_type': '%.40s' is not supported (only "
                          "'absolute')",
                          path, str);

    if ((s = cfg_int(path, root, "hidden_size", true, 0, 1, CFG_MAX_HIDDEN, &shape->hidden)) ||
        (s = cfg_int(path, root, "num_hidden_layers", true, 0, 1, CFG_MAX_LAYERS,
                     &shape->n_layers)) ||
        (s = cfg_int(path, root, "num_attention_heads", true, 0, 1, CFG_MAX_HIDDEN,
                     &shape->n_heads)) ||
        (s = cfg_int(path, root, "intermediate_size", true, 0, 1, CFG_MAX_FFN, &shape->ffn)) ||
        (s = cfg_int(path, root, "vocab_size", true, 0, 1, CFG_MAX_VOCAB, &shape->vocab_size)) ||
        (s = cfg_int(path, root, "max_position_embeddings", true, 0, 1, CFG_MAX_POSITIONS,
                     &shape->max_positions)) ||
        (s = cfg_int(path, root, "type_vocab_size", false, 2, 1, CFG_MAX_TYPES,
                     &shape->type_vocab_size)))
        return s;
    if (shape->hidden % shape->n_heads != 0)
        return lore__fail(LORE_ECORRUPT,
                          "%s: field 'num_attention_heads': hidden_size %d is not divisible by "
                          "%d heads",
                          path, shape->hidden, shape->n_heads);

    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    shape->ln_eps = 1e-12f;
    if (j) {
        if (!cJSON_IsNumber(j))
            return lore__fail(LORE_ECORRUPT,
                              "%s: field 'layer_norm_eps': expected a number, got %s", path,
                              json_kind(j));
        if (!(j->valuedouble > 0.0 && j->valuedouble < 1.0))
            return lore__fail(LORE_ECORRUPT, "%s: field 'layer_norm_eps': %.17g is not in (0, 1)",
                              path, j->valuedouble);
        shape->ln_eps = (float)j->valuedouble;
    }

    if ((s = cfg_string(path, root, "hidden_act", &str)) != LORE_OK)
        return s;
    if (!str || strcmp(str, "gelu") == 0)
        shape->act = LORE_ACT_GELU; /* BertConfig's default */
    else if (strcmp(str, "gelu_new") == 0 || strcmp(str, "gelu_pytorch_tanh") == 0 ||
             strcmp(str, "gelu_fast") == 0) /* all three are the same tanh formula */
        shape->act = LORE_ACT_GELU_TANH;
    else
        return lore__fail(LORE_EUNSUPPORTED,
                          "%s: field 'hidden_act': '%.40s' is not supported (gelu, gelu_new, "
                          "gelu_pytorch_tanh)",
                          path, str);
    return LORE_OK;
}

/*
 * Fills m->labels (n of them) from id2label when config.json has one, or
 * "LABEL_i" as transformers names them by default.
 */
static lore_status read_labels(const char *path, const cJSON *root, lore__model *m, int n)
{
    m->labels = calloc((size_t)n, sizeof *m->labels);
    if (!m->labels)
        return lore__fail(LORE_ENOMEM, "out of memory for %d labels", n);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (map && !cJSON_IsObject(map))
        return lore__fail(LORE_ECORRUPT, "%s: field 'id2label': expected an object, got %s", path,
                          json_kind(map));
    if (map) {
        int count = cJSON_GetArraySize(map);
        if (count != n)
            return lore__fail(LORE_ECORRUPT,
                              "%s: field 'id2label': %d labels, but the classifier has %d rows",
                              path, count, n);
        const cJSON *e;
        cJSON_ArrayForEach(e, map)
        {
            char *endp = NULL;
            errno = 0;
            long id = strtol(e->string, &endp, 10);
            if (!*e->string || *endp || errno || id < 0 || id >= n)
                return lore__fail(LORE_ECORRUPT,
                                  "%s: field 'id2label': key '%.20s' is not a label id in [0, %d]",
                                  path, e->string, n - 1);
            if (!cJSON_IsString(e))
                return lore__fail(LORE_ECORRUPT,
                                  "%s: field 'id2label': label %ld is %s, not a string", path, id,
                                  json_kind(e));
            if (m->labels[id])
                return lore__fail(LORE_ECORRUPT, "%s: field 'id2label': id %ld appears twice", path,
                                  id);
            m->labels[id] = strdup(e->valuestring);
            if (!m->labels[id])
                return lore__fail(LORE_ENOMEM, "out of memory for labels");
        }
        return LORE_OK;
    }
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        m->labels[i] = strdup(buf);
        if (!m->labels[i])
            return lore__fail(LORE_ENOMEM, "out of memory for labels");
    }
    return LORE_OK;
}

/* tokenizer_config.json, when present, says how the vocabulary was cased. */
static lore_status read_tokenizer_config(const char *dir, lore_tokenizer_params *p)
{
    char path[PATH_MAX];
    cJSON *root = NULL;
    lore_status s = join_path(path, sizeof path, dir, "tokenizer_config.json");
    if (s == LORE_OK)
        s = read_json(path, true, &root);
    if (s != LORE_OK || !root)
        return s;
    bool present, v;
    if ((s = cfg_bool(path, root, "do_lower_case", &present, &v)) != LORE_OK)
        goto done;
    if (present)
        p->lowercase = v;
    if ((s = cfg_bool(path, root, "tokenize_chinese_chars", &present, &v)) != LORE_OK)
        goto done;
    if (present)
        p->split_cjk = v;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "strip_accents");
    if (j && cJSON_IsNull(j)) {
        p->strip_accents = -1; /* the reference default: follow lower-casing */
    } else if (j) {
        if ((s = cfg_bool(path, root, "strip_accents", &present, &v)) != LORE_OK)
            goto done;
        p->strip_accents = v ? 1 : 0;
    }
done:
    cJSON_Delete(root);
    return s;
}

/*
 * sentence-transformers metadata: 1_Pooling/config.json picks the pooling
 * (mean when absent) and sentence_bert_config.json the truncation length.
 */
static lore_status read_st_configs(const char *dir, lore_tier *shape)
{
    static const struct {
        const char *key;
        int pooling; /* -1: a mode lore does not implement */
    } modes[] = {
        {"pooling_mode_cls_token", LORE_POOLING_CLS},
        {"pooling_mode_mean_tokens", LORE_POOLING_MEAN},
        {"pooling_mode_max_tokens", -1},
        {"pooling_mode_mean_sqrt_len_tokens", -1},
        {"pooling_mode_weightedmean_tokens", -1},
        {"pooling_mode_lasttoken", -1},
    };
    char path[PATH_MAX];
    cJSON *root = NULL;
    lore_status s = join_path(path, sizeof path, dir, "1_Pooling/config.json");
    if (s == LORE_OK)
        s = read_json(path, true, &root);
    if (s != LORE_OK)
        return s;
    if (root) {
        int n_on = 0;
        const char *first_on = NULL;
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            bool present, on = false;
            if ((s = cfg_bool(path, root, modes[i].key, &present, &on)) != LORE_OK)
                goto done;
            if (!on)
                continue;
            if (n_on++ == 0)
                first_on = modes[i].key;
            if (modes[i].pooling < 0) {
                s = lore__fail(LORE_EUNSUPPORTED,
                               "%s: field '%s': pooling mode not supported (cls or mean tokens)",
                               path, modes[i].key);
                goto done;
            }
            shape->pooling = (lore_pooling)modes[i].pooling;
        }
        if (n_on == 0) {
            s = lore__fail(LORE_ECORRUPT, "%s: no pooling mode is set", path);
            goto done;
        }
        if (n_on > 1) {
            s = lore__fail(LORE_EUNSUPPORTED,
                           "%s: %d pooling modes set at once (from '%s'); lore pools one way", path,
                           n_on, first_on);
            goto done;
        }
        cJSON_Delete(root);
        root = NULL;
    }

    if ((s = join_path(path, sizeof path, dir, "sentence_bert_config.json")) != LORE_OK ||
        (s = read_json(path, true, &root)) != LORE_OK || !root)
        return s;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "max_seq_length");
    if (j && !cJSON_IsNull(j))
        s = cfg_int(path, root, "max_seq_length", true, 0, 2, shape->max_positions,
                    &shape->max_tokens);
done:
    cJSON_Delete(root);
    return s;
}

/* ---- tensor planning ----------------------------------------------------- */

typedef struct plan_slot {
    const lore__st_tensor *t;
    const float **dst; /* set once placed; NULL for parts of a fused block */
    size_t off;        /* arena offset in floats; SIZE_MAX: used in place */
} plan_slot;

typedef struct load_ctx {
    const char *st_path;
    lore__safetensors *st;
    const char *prefix; /* "bert." or "" */
    plan_slot *slots;
    size_t n_slots, cap_slots;
    size_t arena_floats;
} load_ctx;

static lore_status ctx_push(load_ctx *c, const lore__st_tensor *t, const float **dst, size_t off)
{
    if (c->n_slots == c->cap_slots) {
        size_t cap = c->cap_slots ? 2 * c->cap_slots : 64;
        plan_slot *p = realloc(c->slots, cap * sizeof *p);
        if (!p)
            return lore__fail(LORE_ENOMEM, "out of memory planning %zu tensors", cap);
        c->slots = p;
        c->cap_slots = cap;
    }
    c->slots[c->n_slots++] = (plan_slot){t, dst, off};
    return LORE_OK;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *d)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/*
 * Finds prefix + name (trying alt, an older spelling, when given), checks its
 * dtype and that its shape is exactly [d0] or [d0, d1] (d1 < 0: one dim).
 */
static lore_status ctx_find(load_ctx *c, bool prefixed, const char *name, const char *alt,
                            int64_t d0, int64_t d1, const lore__st_tensor **out)
{
    char full[256], full_alt[256];
    const char *pre = prefixed ? c->prefix : "";
    snprintf(full, sizeof full, "%s%s", pre, name);
    const lore__st_tensor *t = lore__safetensors_find(c->st, full);
    if (!t && alt) {
        snprintf(full_alt, sizeof full_alt, "%s%s", pre, alt);
        t = lore__safetensors_find(c->st, full_alt);
    }
    if (!t)
        return lore__fail(LORE_ECORRUPT, "%s: missing tensor '%s'", c->st_path, full);
    if (t->dtype != LORE__DT_F32 && t->dtype != LORE__DT_F16 && t->dtype != LORE__DT_BF16)
        return lore__fail(LORE_EUNSUPPORTED,
                          "%s: tensor '%s': dtype %s is not supported (F32, F16 or BF16)",
                          c->st_path, t->name, t->dtype_name);
    int64_t want[2] = {d0, d1};
    int want_ndim = d1 < 0 ? 1 : 2;
    bool ok = t->ndim == want_ndim;
    for (int i = 0; ok && i < want_ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char got_s[128], want_s[64];
        shape_str(got_s, sizeof got_s, t->ndim, t->shape);
        shape_str(want_s, sizeof want_s, want_ndim, want);
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': shape %s, expected %s", c->st_path,
                          t->name, got_s, want_s);
    }
    *out = t;
    return LORE_OK;
}

/* Plans a tensor that stands alone: in place when f32 and aligned, else in the arena. */
static lore_status ctx_need(load_ctx *c, bool prefixed, const char *name, const char *alt,
                            int64_t d0, int64_t d1, const float **dst)
{
    const lore__st_tensor *t;
    lore_status s = ctx_find(c, prefixed, name, alt, d0, d1, &t);
    if (s != LORE_OK)
        return s;
    size_t off = SIZE_MAX;
    if (t->dtype != LORE__DT_F32 || (uintptr_t)t->data % sizeof(float) != 0) {
        off = c->arena_floats;
        c->arena_floats += (size_t)t->n_elem;
    }
    return ctx_push(c, t, dst, off);
}

/* Plans a tensor copied into a fused block at arena offset off. */
static lore_status ctx_need_at(load_ctx *c, const char *name, int64_t d0, int64_t d1, size_t off)
{
    const lore__st_tensor *t;
    lore_status s = ctx_find(c, true, name, NULL, d0, d1, &t);
    return s != LORE_OK ? s : ctx_push(c, t, NULL, off);
}

static lore_status plan_layer(load_ctx *c, const lore_tier *sh, int l, lore__bert_layer *L,
                              size_t *qkv_w_off, size_t *qkv_b_off)
{
    const int64_t H = sh->hidden, F = sh->ffn;
    char n[128], a[128];
    lore_status s;
    static const char *const qkv[3] = {"query", "key", "value"};

    *qkv_w_off = c->arena_floats;
    c->arena_floats += (size_t)(3 * H * H);
    *qkv_b_off = c->arena_floats;
    c->arena_floats += (size_t)(3 * H);
    for (int p = 0; p < 3; p++) {
        snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.weight", l, qkv[p]);
        if ((s = ctx_need_at(c, n, H, H, *qkv_w_off + (size_t)(p * H * H))) != LORE_OK)
            return s;
        snprintf(n, sizeof n, "encoder.layer.%d.attention.self.%s.bias", l, qkv[p]);
        if ((s = ctx_need_at(c, n, H, -1, *qkv_b_off + (size_t)(p * H))) != LORE_OK)
            return s;
    }

#define NEED(dst, d0, d1, ...)                                                                     \
    do {                                                                                           \
        snprintf(n, sizeof n, __VA_ARGS__);                                                        \
        if ((s = ctx_need(c, true, n, NULL, d0, d1, &(dst))) != LORE_OK)                           \
            return s;                                                                              \
    } while (0)
/* LayerNorm parameters: weight/bias, or gamma/beta in checkpoints from the TF era. */
#define NEED_LN(dst, suffix, old, base)                                                            \
    do {                                                                                           \
        snprintf(n, sizeof n, "encoder.layer.%d.%s." suffix, l, base);                             \
        snprintf(a, sizeof a, "encoder.layer.%d.%s." old, l, base);                                \
        if ((s = ctx_need(c, true, n, a, H, -1, &(dst))) != LORE_OK)                               \
            return s;                                                                              \
    } while (0)

    NEED(L->out_w, H, H, "encoder.layer.%d.attention.output.dense.weight", l);
    NEED(L->out_b, H, -1, "encoder.layer.%d.attention.output.dense.bias", l);
    NEED_LN(L->ln1_g, "weight", "gamma", "attention.output.LayerNorm");
    NEED_LN(L->ln1_b, "bias", "beta", "attention.output.LayerNorm");
    NEED(L->ffn_in_w, F, H, "encoder.layer.%d.intermediate.dense.weight", l);
    NEED(L->ffn_in_b, F, -1, "encoder.layer.%d.intermediate.dense.bias", l);
    NEED(L->ffn_out_w, H, F, "encoder.layer.%d.output.dense.weight", l);
    NEED(L->ffn_out_b, H, -1, "encoder.layer.%d.output.dense.bias", l);
    NEED_LN(L->ln2_g, "weight", "gamma", "output.LayerNorm");
    NEED_LN(L->ln2_b, "bias", "beta", "output.LayerNorm");
#undef NEED
#undef NEED_LN
    return LORE_OK;
}

static const char *dtype_label(lore__dtype dt)
{
    return dt == LORE__DT_F16 ? "f16" : dt == LORE__DT_BF16 ? "bf16" : "f32";
}

/* Plans every tensor, allocates the arena, converts, and points m at the data. */
static lore_status load_tensors(load_ctx *c, const char *cfg_path, const cJSON *cfg, lore__model *m)
{
    lore_tier *sh = &m->shape;
    const int64_t H = sh->hidden;
    lore_status s;
    size_t *fused = NULL;

    const lore__st_tensor *wemb =
        lore__safetensors_find(c->st, "bert.embeddings.word_embeddings.weight");
    c->prefix = wemb ? "bert." : "";
    if (!wemb && !lore__safetensors_find(c->st, "embeddings.word_embeddings.weight"))
        return lore__fail(LORE_ECORRUPT,
                          "%s: missing tensor 'embeddings.word_embeddings.weight' "
                          "(nor 'bert.embeddings.word_embeddings.weight'): not a BERT checkpoint",
                          c->st_path);

    if ((s = ctx_need(c, true, "embeddings.word_embeddings.weight", NULL, sh->vocab_size, H,
                      &m->word_emb)) ||
        (s = ctx_need(c, true, "embeddings.position_embeddings.weight", NULL, sh->max_positions, H,
                      &m->pos_emb)) ||
        (s = ctx_need(c, true, "embeddings.token_type_embeddings.weight", NULL, sh->type_vocab_size,
                      H, &m->type_emb)) ||
        (s = ctx_need(c, true, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma", H, -1,
                      &m->emb_ln_g)) ||
        (s = ctx_need(c, true, "embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta", H, -1,
                      &m->emb_ln_b)))
        return s;
    snprintf(m->dtype, sizeof m->dtype, "%s", dtype_label(c->slots[0].t->dtype));

    m->layers = calloc((size_t)sh->n_layers, sizeof *m->layers);
    fused = malloc(2 * (size_t)sh->n_layers * sizeof *fused);
    if (!m->layers || !fused) {
        s = lore__fail(LORE_ENOMEM, "out of memory for %d layers", sh->n_layers);
        goto done;
    }
    for (int l = 0; l < sh->n_layers; l++)
        if ((s = plan_layer(c, sh, l, &m->layers[l], &fused[2 * l], &fused[2 * l + 1])) != LORE_OK)
            goto done;

    /* A sequence-classification head makes it an NLI cross-encoder. */
    const lore__st_tensor *cls = lore__safetensors_find(c->st, "classifier.weight");
    if (cls) {
        if (cls->ndim != 2 || cls->shape[0] < 1 || cls->shape[0] > CFG_MAX_LABELS ||
            cls->shape[1] != H) {
            char got[128];
            shape_str(got, sizeof got, cls->ndim, cls->shape);
            s = lore__fail(LORE_ECORRUPT,
                           "%s: tensor 'classifier.weight': shape %s, expected [n_labels, %lld] "
                           "with 1 <= n_labels <= %d",
                           c->st_path, got, (long long)H, CFG_MAX_LABELS);
            goto done;
        }
        sh->kind = LORE_MODEL_NLI;
        sh->n_labels = (int)cls->shape[0];
        sh->pooling = LORE_POOLING_CLS; /* the pooler reads [CLS] */
        const int64_t NL = sh->n_labels;
        if ((s = ctx_need(c, true, "pooler.dense.weight", NULL, H, H, &m->pooler_w)) ||
            (s = ctx_need(c, true, "pooler.dense.bias", NULL, H, -1, &m->pooler_b)) ||
            (s = ctx_need(c, false, "classifier.weight", NULL, NL, H, &m->cls_w)) ||
            (s = ctx_need(c, false, "classifier.bias", NULL, NL, -1, &m->cls_b)) ||
            (s = read_labels(cfg_path, cfg, m, sh->n_labels)))
            goto done;
    }

    m->arena = malloc(c->arena_floats * sizeof *m->arena);
    if (!m->arena) {
        s = lore__fail(LORE_ENOMEM, "%s: out of memory for %zu floats of converted weights",
                       c->st_path, c->arena_floats);
        goto done;
    }
    m->arena_floats = c->arena_floats;
    for (size_t i = 0; i < c->n_slots; i++) {
        const plan_slot *p = &c->slots[i];
        const float *where;
        if (p->off == SIZE_MAX) {
            where = p->t->data;
        } else {
            convert_tensor(p->t, m->arena + p->off);
            where = m->arena + p->off;
        }
        if (p->dst)
            *p->dst = where;
    }
    for (int l = 0; l < sh->n_layers; l++) {
        m->layers[l].qkv_w = m->arena + fused[2 * l];
        m->layers[l].qkv_b = m->arena + fused[2 * l + 1];
    }
    s = LORE_OK;
done:
    free(fused);
    return s;
}

/* ---- model folder -------------------------------------------------------- */

/* Copies the last path component of dir (trailing slashes ignored) into buf. */
static void base_name(const char *dir, char *buf, size_t cap)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    if (start == end) /* "/" */
        start = 0;
    snprintf(buf, cap, "%.*s", (int)(end - start), dir + start);
}

lore_status lore__model_load(const char *dir, const lore_tokenizer_params *tok_params,
                             lore__model **out)
{
    if (out)
        *out = NULL;
    if (!dir || !out)
        return lore__fail(LORE_EINVAL, "model load: %s is NULL", dir ? "out" : "dir");
    if (!*dir)
        return lore__fail(LORE_EINVAL, "model load: the folder path is empty");

    lore_status s;
    cJSON *cfg = NULL;
    load_ctx c = {0};
    char cfg_path[PATH_MAX], st_path[PATH_MAX], vocab_path[PATH_MAX];
    lore__model *m = calloc(1, sizeof *m);
    if (!m)
        return lore__fail(LORE_ENOMEM, "out of memory for a model");
    if (strlen(dir) >= sizeof m->source) {
        s = lore__fail(LORE_EINVAL, "model folder path is %zu bytes (at most %zu)", strlen(dir),
                       sizeof m->source - 1);
        goto fail;
    }
    if ((s = join_path(cfg_path, sizeof cfg_path, dir, "config.json")) ||
        (s = join_path(st_path, sizeof st_path, dir, "model.safetensors")) ||
        (s = join_path(vocab_path, sizeof vocab_path, dir, "vocab.txt")))
        goto fail;

    lore_tier *sh = &m->shape;
    snprintf(m->source, sizeof m->source, "%s", dir);
    base_name(dir, m->name_buf, sizeof m->name_buf);
    sh->name = m->name_buf;
    sh->model_id = m->model_id_buf;
    sh->kind = LORE_MODEL_EMBEDDING;
    sh->pooling = LORE_POOLING_MEAN;

    if ((s = read_json(cfg_path, false, &cfg)) || (s = read_config(cfg_path, cfg, sh)))
        goto fail;
    const char *id = NULL;
    if ((s = cfg_string(cfg_path, cfg, "_name_or_path", &id)) != LORE_OK)
        goto fail;
    snprintf(m->model_id_buf, sizeof m->model_id_buf, "%s", id && *id ? id : dir);
    sh->max_tokens =
        sh->max_positions < DEFAULT_MAX_TOKENS ? sh->max_positions : DEFAULT_MAX_TOKENS;
    if ((s = read_st_configs(dir, sh)) != LORE_OK)
        goto fail;

    lore_tokenizer_params tp = tok_params ? *tok_params : lore_tokenizer_default_params();
    if ((s = read_tokenizer_config(dir, &tp)) != LORE_OK)
        goto fail;

    if ((s = lore__safetensors_open(st_path, &m->st)) != LORE_OK)
        goto fail;
    c.st_path = st_path;
    c.st = m->st;
    if ((s = load_tensors(&c, cfg_path, cfg, m)) != LORE_OK)
        goto fail;

    s = lore_tokenizer_load(vocab_path, &tp, &m->tokenizer);
    if (s != LORE_OK) {
        /* Make sure the message names the file whatever the tokenizer said. */
        if (!strstr(lore_last_error(), vocab_path)) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", lore_last_error());
            lore__fail(s, "%s: %s", vocab_path, msg);
        }
        goto fail;
    }
    size_t n_vocab = lore_tokenizer_vocab_size(m->tokenizer);
    if (n_vocab != (size_t)sh->vocab_size) {
        s = lore__fail(LORE_ECORRUPT, "%s: %zu tokens, but config.json says vocab_size %d",
                       vocab_path, n_vocab, sh->vocab_size);
        goto fail;
    }

    free(c.slots);
    cJSON_Delete(cfg);
    *out = m;
    return LORE_OK;

fail:
    free(c.slots);
    cJSON_Delete(cfg);
    lore__model_free(m);
    return s;
}

/* ---- synthetic weights --------------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna): fast, and good in every bit. */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/*
 * Uniform on [-a, a] with a = 0.02 * sqrt(3): std 0.02, BERT's initializer
 * range, without a normal sampler's cost. Two 24-bit draws per 64-bit output.
 */
static void fill_uniform(rng *r, float *x, size_t n)
{
    const float a = 0.02f * 1.7320508f;
    const float scale = 2.0f * a / 16777216.0f;
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t v = rng_next(r);
        x[i] = ((float)(v >> 40) + 0.5f) * scale - a;
        x[i + 1] = ((float)((v >> 8) & 0xffffffu) + 0.5f) * scale - a;
    }
    if (i < n)
        x[i] = ((float)(rng_next(r) >> 40) + 0.5f) * scale - a;
}

static void fill_const(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

/* Hands out consecutive regions of the arena. */
static float *take(float **cursor, size_t n)
{
    float *p = *cursor;
    *cursor += n;
    return p;
}

static lore_status check_tier(const lore_tier *t)
{
    const char *name = t->name ? t->name : "(unnamed)";
    if (t->n_layers < 1 || t->n_layers > CFG_MAX_LAYERS || t->hidden < 1 ||
        t->hidden > CFG_MAX_HIDDEN || t->n_heads < 1 || t->hidden % t->n_heads != 0 || t->ffn < 1 ||
        t->ffn > CFG_MAX_FFN || t->vocab_size < 1 || t->vocab_size > CFG_MAX_VOCAB ||
        t->max_positions < 1 || t->max_positions > CFG_MAX_POSITIONS || t->type_vocab_size < 1 ||
        t->type_vocab_size > CFG_MAX_TYPES)
        return lore__fail(LORE_EINVAL,
                          "tier '%s': bad shape (layers %d, hidden %d, heads %d, ffn %d, vocab %d, "
                          "positions %d, types %d)",
                          name, t->n_layers, t->hidden, t->n_heads, t->ffn, t->vocab_size,
                          t->max_positions, t->type_vocab_size);
    if (t->kind == LORE_MODEL_NLI && (t->n_labels < 1 || t->n_labels > CFG_MAX_LABELS))
        return lore__fail(LORE_EINVAL, "tier '%s': NLI tier with %d labels", name, t->n_labels);
    return LORE_OK;
}

lore_status lore__model_synthetic(const lore_tier *tier, uint64_t seed,
                                  const lore_tokenizer_params *tok_params, lore__model **out)
{
    if (out)
        *out = NULL;
    if (!tier || !out)
        return lore__fail(LORE_EINVAL, "synthetic model: %s is NULL", tier ? "out" : "tier");
    lore_status s = check_tier(tier);
    if (s != LORE_OK)
        return s;

    lore__model *m = calloc(1, sizeof *m);
    if (!m)
        return lore__fail(LORE_ENOMEM, "out of memory for a model");
    m->shape = *tier;
    snprintf(m->name_buf, sizeof m->name_buf, "%s", tier->name ? tier->name : "");
    snprintf(m->model_id_buf, sizeof m->model_id_buf, "%s", tier->model_id ? tier->model_id : "");
    m->shape.name = m->name_buf;
    m->shape.model_id = m->model_id_buf;
    if (m->shape.kind != LORE_MODEL_NLI)
        m->shape.n_labels = 0;
    m->synthetic = true;
    snprintf(m->dtype, sizeof m->dtype, "f32");
    snprintf(m->source, sizeof m->source, "synthetic:%s:seed=%llu", m->name_buf,
             (unsigned long long)seed);

    const size_t H = (size_t)tier->hidden, F = (size_t)tier->ffn, NL = (size_t)m->shape.n_labels;
    const size_t per_layer = 3 * H * H + 3 * H + H * H + H + 2 * H + F * H + F + H * F + H + 2 * H;
    size_t total =
        ((size_t)tier->vocab_size + (size_t)tier->max_positions + (size_t)tier->type_vocab_size) *
            H +
        2 * H + (size_t)tier->n_layers * per_layer;
    if (tier->kind == LORE_MODEL_NLI)
        total += H * H + H + NL * H + NL;

    m->layers = calloc((size_t)tier->n_layers, sizeof *m->layers);
    m->arena = malloc(total * sizeof *m->arena);
    if (!m->layers || !m->arena) {
        s = lore__fail(LORE_ENOMEM, "tier '%s': out of memory for %zu floats of weights",
                       m->name_buf, total);
        goto fail;
    }
    m->arena_floats = total;

    rng r;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r.s[i] = splitmix64(&x);
    float *cur = m->arena, *p;

#define MATRIX(dst, n) (fill_uniform(&r, p = take(&cur, n), n), (dst) = p)
#define CONST(dst, n, v) (fill_const(p = take(&cur, n), n, v), (dst) = p)
    MATRIX(m->word_emb, (size_t)tier->vocab_size * H);
    MATRIX(m->pos_emb, (size_t)tier->max_positions * H);
    MATRIX(m->type_emb, (size_t)tier->type_vocab_size * H);
    CONST(m->emb_ln_g, H, 1.0f);
    CONST(m->emb_ln_b, H, 0.0f);
    for (int l = 0; l < tier->n_layers; l++) {
        lore__bert_layer *L = &m->layers[l];
        MATRIX(L->qkv_w, 3 * H * H);
        CONST(L->qkv_b, 3 * H, 0.0f);
        MATRIX(L->out_w, H * H);
        CONST(L->out_b, H, 0.0f);
        CONST(L->ln1_g, H, 1.0f);
        CONST(L->ln1_b, H, 0.0f);
        MATRIX(L->ffn_in_w, F * H);
        CONST(L->ffn_in_b, F, 0.0f);
        MATRIX(L->ffn_out_w, H * F);
        CONST(L->ffn_out_b, H, 0.0f);
        CONST(L->ln2_g, H, 1.0f);
        CONST(L->ln2_b, H, 0.0f);
    }
    if (tier->kind == LORE_MODEL_NLI) {
        MATRIX(m->pooler_w, H * H);
        CONST(m->pooler_b, H, 0.0f);
        MATRIX(m->cls_w, NL * H);
        CONST(m->cls_b, NL, 0.0f);
        m->labels = calloc(NL, sizeof *m->labels);
        if (!m->labels) {
            s = lore__fail(LORE_ENOMEM, "out of memory for labels");
            goto fail;
        }
        /* The order of the public NLI cross-encoders' id2label. */
        static const char *const nli[3] = {"contradiction", "entailment", "neutral"};
        for (size_t i = 0; i < NL; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "LABEL_%zu", i);
            m->labels[i] = strdup(NL == 3 ? nli[i] : buf);
            if (!m->labels[i]) {
                s = lore__fail(LORE_ENOMEM, "out of memory for labels");
                goto fail;
            }
        }
    }
#undef MATRIX
#undef CONST

    s = lore_tokenizer_new_synthetic((size_t)tier->vocab_size, seed, tok_params, &m->tokenizer);
    if (s != LORE_OK)
        goto fail;
    *out = m;
    return LORE_OK;

fail:
    lore__model_free(m);
    return s;
}

void lore__model_free(lore__model *m)
{
    if (!m)
        return;
    if (m->labels)
        for (int i = 0; i < m->shape.n_labels; i++)
            free(m->labels[i]);
    free(m->labels);
    lore_tokenizer_free(m->tokenizer);
    free(m->layers);
    free(m->arena);
    lore__safetensors_close(m->st);
    free(m);
}
