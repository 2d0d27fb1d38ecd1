/*
 * embedder.c - the embedder and NLI handles: validation of params, the
 * cache, tokenization, length sorting, batching and the thread policy around
 * the encoder's forward pass.
 *
 * One call goes: cache lookups (embedder) -> duplicates inside the call
 * folded onto their first occurrence -> tokenization of what is left ->
 * stable sort by token count -> batches of batch_size in that order -> each
 * batch one forward pass (BLAS mode) or split into one contiguous slice per
 * worker with about equal flops (worker mode) -> results written
 * straight to the caller's rows -> cache fill and duplicate copies.
 *
 * Per-call scratch (ids, items, sequences) lives in the handle and grows
 * only when a call brings more texts than any before (counted with the
 * workspace growth).
 */
#include "core/lore_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "kernels/blas_int.h"
#include "kernels/nn.h"
#include "model/cache.h"
#include "model/encoder.h"
#include "model/weights.h"

/* Rows per worker a workspace starts with, per text of the batch: enough for
 * typical chunks without sizing every workspace for the model's longest input. */
#define INITIAL_TOKENS_PER_TEXT 128
#define MAX_BATCH_SIZE 65536
#define MAX_THREADS 256
#define TASK_ERROR_BYTES 512

typedef struct item {
    size_t index;   /* position in the caller's arrays */
    uint64_t key;   /* cache key (embedder with a cache) */
    size_t dup_of;  /* index of the first occurrence, or SIZE_MAX */
    int n;          /* tokens */
    int32_t *ids;   /* max_tokens slots in the call scratch */
    int32_t *types; /* NLI only */
    lore_encode_info info;
} item;

typedef struct task_result {
    lore_status status;
    char message[TASK_ERROR_BYTES];
} task_result;

typedef struct runner {
    lore_model_kind kind;
    lore__model *model;
    const lore__nn_kernels *k;
    lore__pool *pool;
    int n_workers;
    lore__encoder_ws *ws;     /* one per worker */
    lore__forward_stats *fwd; /* one per worker */
    task_result *results;     /* one per worker */
    lore_encoder_settings settings;
    lore_encoder_stats stats;
    lore__cache *cache;
    uint64_t model_key;
    int out_dim;

    /* Per-call scratch. */
    size_t cap_items;
    int32_t *ids, *types;
    item *items;
    item **order;
    lore__seq *seqs;
    size_t *slice; /* n_workers + 1 boundaries into the batch's seqs */
    int64_t scratch_grows;

    /* The call being run, read by the pool tasks. */
    const char *const *texts_a, *const *texts_b;
    const size_t *lens_a, *lens_b;
    size_t n_todo;
    item **todo;
    const lore__seq *batch;
    int pad_to;
    /* Called when a call's tokenization ends and its forward passes begin. */
    void (*phase_hook)(void *ctx);
    void *phase_ctx;
} runner;

struct lore_embedder {
    runner r;
};

struct lore_nli {
    runner r;
};

static lore_encoder_params default_params(const char *tier, int batch_size)
{
    lore_encoder_params p = {0};
    p.tier = tier;
    p.seed = 42;
    p.batch_size = batch_size;
    p.n_threads = 1;
    p.thread_mode = LORE_THREADS_BLAS;
    p.padding = LORE_PADDING_NONE;
    p.sort_by_length = true;
    p.precision = LORE_PRECISION_F32;
    p.utf8 = LORE_UTF8_STRICT;
    return p;
}

lore_encoder_params lore_embedder_default_params(void)
{
    return default_params("minilm-l6", 32);
}

lore_encoder_params lore_nli_default_params(void)
{
    return default_params("nli-minilm-l6", 8);
}

static lore_status check_params(const lore_encoder_params *p)
{
    if (!p->model_dir && !p->tier)
        return lore__fail(LORE_EINVAL, "params: neither tier nor model_dir given");
    if (p->batch_size < 1 || p->batch_size > MAX_BATCH_SIZE)
        return lore__fail(LORE_EINVAL, "params: batch_size must be in 1..%d (got %d)",
                          MAX_BATCH_SIZE, p->batch_size);
    if (p->n_threads < 1 || p->n_threads > MAX_THREADS)
        return lore__fail(LORE_EINVAL, "params: n_threads must be in 1..%d (got %d)", MAX_THREADS,
                          p->n_threads);
    if (p->max_tokens != 0 && p->max_tokens < 3)
        return lore__fail(LORE_EINVAL,
                          "params: max_tokens must be 0 (model default) or >= 3 (got %d)",
                          p->max_tokens);
    if ((unsigned)p->thread_mode > LORE_THREADS_WORKERS)
        return lore__fail(LORE_EINVAL, "params: unknown thread_mode %d", (int)p->thread_mode);
    if ((unsigned)p->padding > LORE_PADDING_MAX)
        return lore__fail(LORE_EINVAL, "params: unknown padding %d", (int)p->padding);
    if ((unsigned)p->precision > LORE_PRECISION_BF16)
        return lore__fail(LORE_EINVAL, "params: unknown precision %d", (int)p->precision);
    if ((unsigned)p->utf8 > LORE_UTF8_REPLACE)
        return lore__fail(LORE_EINVAL, "params: unknown utf8 policy %d", (int)p->utf8);
    if (p->precision == LORE_PRECISION_BF16 && !lore__blas_has_sbgemm()) {
        lore_blas_info info;
        lore_blas_get_info(&info);
        return lore__fail(LORE_EUNSUPPORTED,
                          "precision bf16 needs cblas_sbgemm, which this BLAS (%s %s) does not "
                          "export (built without BUILD_BFLOAT16)",
                          info.library, info.config);
    }
    if (p->precision == LORE_PRECISION_BF16)
        return lore__fail(LORE_EUNSUPPORTED, "precision bf16: not implemented in this build");
    return LORE_OK;
}

static lore_status load_model(const lore_encoder_params *p, lore_model_kind kind, lore__model **out)
{
    lore_tokenizer_params tp = lore_tokenizer_default_params();
    tp.utf8 = p->utf8;
    lore_status s;
    if (p->model_dir) {
        s = lore__model_load(p->model_dir, &tp, out);
    } else {
        const lore_tier *t = lore_tier_find(p->tier);
        if (!t)
            return lore__fail(LORE_EINVAL, "params: unknown tier '%s'", p->tier);
        if (t->kind != kind) /* before building weights that would be thrown away */
            return lore__fail(LORE_EINVAL, "tier '%s' is %s model, not %s one", t->name,
                              kind == LORE_MODEL_NLI ? "an embedding" : "an NLI",
                              kind == LORE_MODEL_NLI ? "an NLI" : "an embedding");
        s = lore__model_synthetic(t, p->seed, &tp, out);
    }
    if (s != LORE_OK)
        return s;
    if ((*out)->shape.kind != kind) {
        s = lore__fail(LORE_EINVAL, "model '%s' is %s model, not %s one", (*out)->shape.name,
                       kind == LORE_MODEL_NLI ? "an embedding" : "an NLI",
                       kind == LORE_MODEL_NLI ? "an NLI" : "an embedding");
        lore__model_free(*out);
        *out = NULL;
        return s;
    }
    return LORE_OK;
}

static void runner_free(runner *r)
{
    for (int w = 0; r->ws && w < r->n_workers; w++)
        lore__encoder_ws_free(&r->ws[w]);
    free(r->ws);
    free(r->fwd);
    free(r->results);
    lore__pool_free(r->pool);
    lore__cache_free(r->cache);
    lore__model_free(r->model);
    free(r->ids);
    free(r->types);
    free(r->items);
    free(r->order);
    free(r->seqs);
    free(r->slice);
}

static void fill_settings(runner *r, const lore_encoder_params *p, int max_tokens, int blas_threads)
{
    lore_encoder_settings *s = &r->settings;
    const lore__model *m = r->model;
    s->shape = m->shape;
    s->synthetic_weights = m->synthetic;
    snprintf(s->weights_dtype, sizeof s->weights_dtype, "%s", m->dtype);
    snprintf(s->source, sizeof s->source, "%s", m->source);
    s->dim = r->out_dim;
    s->batch_size = p->batch_size;
    s->max_tokens = max_tokens;
    s->n_threads = r->n_workers * blas_threads;
    s->thread_mode = p->thread_mode;
    s->n_workers = r->n_workers;
    s->blas_threads = blas_threads;
    s->padding = p->padding;
    s->sort_by_length = p->sort_by_length;
    s->precision = p->precision;
    s->cache_bytes = r->cache ? p->cache_bytes : 0;
    s->kernel_isa = r->k->isa;
}

static lore_status runner_init(runner *r, const lore_encoder_params *p, lore_model_kind kind)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    lore_status s = check_params(p);
    if (s == LORE_OK)
        s = load_model(p, kind, &r->model);
    if (s != LORE_OK)
        return s;
    const lore_tier *t = &r->model->shape;
    int max_tokens = p->max_tokens ? p->max_tokens : t->max_tokens;
    if (max_tokens > t->max_positions)
        return lore__fail(LORE_EINVAL, "params: max_tokens %d exceeds the model's %d positions",
                          max_tokens, t->max_positions);
    r->out_dim = kind == LORE_MODEL_NLI ? t->n_labels : t->hidden;
    r->k = lore__nn_select();

    lore_blas_info info;
    lore_blas_get_info(&info);
    int blas_threads = 1;
    r->n_workers = 1;
    if (p->thread_mode == LORE_THREADS_WORKERS)
        r->n_workers = p->n_threads;
    else
        blas_threads = p->n_threads < info.n_threads_max ? p->n_threads : info.n_threads_max;
    if (r->n_workers > 1 && (s = lore__pool_new(r->n_workers, &r->pool)) != LORE_OK)
        return s;
    r->ws = calloc((size_t)r->n_workers, sizeof *r->ws);
    r->fwd = calloc((size_t)r->n_workers, sizeof *r->fwd);
    r->results = calloc((size_t)r->n_workers, sizeof *r->results);
    if (!r->ws || !r->fwd || !r->results)
        return lore__fail(LORE_ENOMEM, "embedder: out of memory");
    size_t per_worker = ((size_t)p->batch_size + (size_t)r->n_workers - 1) / (size_t)r->n_workers;
    size_t seq_len =
        max_tokens < INITIAL_TOKENS_PER_TEXT ? (size_t)max_tokens : INITIAL_TOKENS_PER_TEXT;
    for (int w = 0; w < r->n_workers; w++)
        if ((s = lore__encoder_ws_init(&r->ws[w], t, per_worker * seq_len, seq_len, per_worker)) !=
            LORE_OK)
            return s;
    if (kind == LORE_MODEL_EMBEDDING && p->cache_bytes > 0) {
        if ((s = lore__cache_new(p->cache_bytes, (size_t)r->out_dim, &r->cache)) != LORE_OK)
            return s;
        /* The key covers what changes a vector: the model and the truncation. */
        r->model_key =
            lore__cache_key((uint64_t)max_tokens, r->model->source, strlen(r->model->source));
    }
    fill_settings(r, p, max_tokens, blas_threads);
    return LORE_OK;
}

static lore_status grow_scratch(runner *r, size_t n)
{
    if (n <= r->cap_items)
        return LORE_OK;
    size_t cap = n > 2 * r->cap_items ? n : 2 * r->cap_items;
    size_t mt = (size_t)r->settings.max_tokens, nw = (size_t)r->n_workers;
    int32_t *ids = malloc(cap * mt * sizeof *ids);
    int32_t *types = r->kind == LORE_MODEL_NLI ? malloc(cap * mt * sizeof *types) : NULL;
    item *items = malloc(cap * sizeof *items);
    item **order = malloc(cap * sizeof *order);
    lore__seq *seqs = malloc(cap * sizeof *seqs);
    size_t *slice = malloc((nw + 1) * sizeof *slice);
    if (!ids || (r->kind == LORE_MODEL_NLI && !types) || !items || !order || !seqs || !slice) {
        free(ids);
        free(types);
        free(items);
        free(order);
        free(seqs);
        free(slice);
        return lore__fail(LORE_ENOMEM, "embedder: out of memory for a call of %zu texts", n);
    }
    if (r->cap_items > 0)
        r->scratch_grows++;
    free(r->ids);
    free(r->types);
    free(r->items);
    free(r->order);
    free(r->seqs);
    free(r->slice);
    r->ids = ids;
    r->types = types;
    r->items = items;
    r->order = order;
    r->seqs = seqs;
    r->slice = slice;
    r->cap_items = cap;
    return LORE_OK;
}

static void task_fail(runner *r, int worker, lore_status s)
{
    task_result *res = &r->results[worker];
    if (res->status != LORE_OK)
        return;
    res->status = s;
    snprintf(res->message, sizeof res->message, "%s", lore_last_error());
}

/* Worker failures are recorded per worker; the caller's thread re-raises the first. */
static lore_status collect_failures(runner *r)
{
    for (int w = 0; w < r->n_workers; w++)
        if (r->results[w].status != LORE_OK)
            return lore__fail(r->results[w].status, "%s", r->results[w].message);
    return LORE_OK;
}

static void clear_failures(runner *r)
{
    for (int w = 0; w < r->n_workers; w++)
        r->results[w].status = LORE_OK;
}

static lore_status tokenize_one(runner *r, item *it)
{
    lore_encode_info *info = &it->info;
    const lore_tokenizer *tok = r->model->tokenizer;
    size_t mt = (size_t)r->settings.max_tokens, n_ids = 0, i = it->index;
    const char *a = r->texts_a[i];
    size_t a_len = r->lens_a ? r->lens_a[i] : (a ? strlen(a) : 0);
    lore_status s;
    if (r->kind == LORE_MODEL_NLI) {
        const char *b = r->texts_b[i];
        size_t b_len = r->lens_b ? r->lens_b[i] : (b ? strlen(b) : 0);
        s = lore_tokenizer_encode_pair(tok, a, a_len, b, b_len, mt, it->ids, it->types, &n_ids,
                                       info);
    } else {
        s = lore_tokenizer_encode(tok, a, a_len, mt, it->ids, &n_ids, info);
    }
    if (s != LORE_OK) {
        /* The detail lives in the buffer lore__fail writes: copy it out first. */
        char detail[TASK_ERROR_BYTES];
        snprintf(detail, sizeof detail, "%s", lore_last_error());
        return lore__fail(s, "text %zu: %s", i, detail);
    }
    it->n = (int)n_ids;
    return LORE_OK;
}

/* Pool task: tokenizes the task-th of n_workers equal slices of the todo list. */
static void tokenize_task(void *ctx, size_t task, int worker)
{
    runner *r = ctx;
    size_t nw = (size_t)r->n_workers;
    size_t begin = r->n_todo * task / nw, end = r->n_todo * (task + 1) / nw;
    for (size_t j = begin; j < end; j++) {
        lore_status s = tokenize_one(r, r->todo[j]);
        if (s != LORE_OK) {
            task_fail(r, worker, s);
            return;
        }
    }
}

static int cmp_item_len(const void *pa, const void *pb)
{
    const item *a = *(item *const *)pa, *b = *(item *const *)pb;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_item_key(const void *pa, const void *pb)
{
    const item *a = *(item *const *)pa, *b = *(item *const *)pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void forward_task(void *ctx, size_t task, int worker)
{
    runner *r = ctx;
    size_t begin = r->slice[task], end = r->slice[task + 1];
    if (begin == end)
        return;
    lore_status s = lore__encoder_forward(r->model, r->k, &r->ws[worker], r->batch + begin,
                                          end - begin, r->pad_to, &r->fwd[worker]);
    if (s != LORE_OK)
        task_fail(r, worker, s);
}

/* Flops of one sequence's pass: projections and FFN per row, attention rows x rows. */
static double seq_cost(const runner *r, const lore__seq *s)
{
    const lore_tier *t = &r->model->shape;
    double rows = r->pad_to ? r->pad_to : s->n, h = t->hidden;
    return rows * 2.0 * h * (4.0 * h + 2.0 * t->ffn) + 4.0 * rows * rows * h;
}

/*
 * Cuts seqs[0..n) into n_workers contiguous slices of about equal work: slice
 * w ends at the first sequence whose midpoint passes w/n_workers of the flops.
 */
static void split_batch(runner *r, const lore__seq *seqs, size_t n)
{
    size_t nw = (size_t)r->n_workers;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += seq_cost(r, &seqs[i]);
    r->slice[0] = 0;
    size_t i = 0;
    double acc = 0;
    for (size_t w = 1; w < nw; w++) {
        double target = total * (double)w / (double)nw;
        while (i < n && acc + seq_cost(r, &seqs[i]) / 2.0 <= target) {
            acc += seq_cost(r, &seqs[i]);
            i++;
        }
        r->slice[w] = i;
    }
    r->slice[nw] = n;
}

static lore_status run_batches(runner *r, float *out)
{
    size_t bs = (size_t)r->settings.batch_size, dim = (size_t)r->out_dim;
    for (size_t b0 = 0; b0 < r->n_todo; b0 += bs) {
        size_t nb = r->n_todo - b0 < bs ? r->n_todo - b0 : bs;
        int longest = 0;
        for (size_t j = 0; j < nb; j++) {
            const item *it = r->todo[b0 + j];
            r->seqs[j] = (lore__seq){it->ids, it->types, it->n, out + it->index * dim};
            if (it->n > longest)
                longest = it->n;
        }
        r->batch = r->seqs;
        r->pad_to = r->settings.padding == LORE_PADDING_NONE    ? 0
                    : r->settings.padding == LORE_PADDING_BATCH ? longest
                                                                : r->settings.max_tokens;
        if (r->pool && nb < (size_t)r->n_workers) {
            /* Too few sequences to give every worker one (a single query, say):
             * the idle workers' cores go to BLAS threads for this pass instead. */
            lore_blas_set_threads(r->n_workers);
            lore_status s = lore__encoder_forward(r->model, r->k, &r->ws[0], r->seqs, nb, r->pad_to,
                                                  &r->fwd[0]);
            lore_blas_set_threads(1);
            if (s != LORE_OK)
                return s;
        } else if (r->pool) {
            split_batch(r, r->seqs, nb);
            lore__pool_run(r->pool, (size_t)r->n_workers, forward_task, r);
            lore_status s = collect_failures(r);
            if (s != LORE_OK)
                return s;
        } else {
            lore_status s = lore__encoder_forward(r->model, r->k, &r->ws[0], r->seqs, nb, r->pad_to,
                                                  &r->fwd[0]);
            if (s != LORE_OK)
                return s;
        }
        r->stats.n_batches++;
    }
    return LORE_OK;
}

static void sync_blas_threads(const runner *r)
{
    if (lore__blas_threads() != r->settings.blas_threads)
        lore_blas_set_threads(r->settings.blas_threads);
}

static lore_status check_inputs(const char *const *texts, const size_t *lens, size_t n,
                                const char *what)
{
    if (n > 0 && !texts)
        return lore__fail(LORE_EINVAL, "%s: NULL array for %zu texts", what, n);
    for (size_t i = 0; i < n; i++)
        if (!texts[i] && (!lens || lens[i] > 0))
            return lore__fail(LORE_EINVAL, "%s: text %zu is NULL", what, i);
    return LORE_OK;
}

/* The shared body of embed_batch and classify_batch. */
static lore_status runner_call(runner *r, const char *const *a, const size_t *a_lens,
                               const char *const *b, const size_t *b_lens, size_t n, float *out,
                               bool use_cache)
{
    lore__cache *const cache = use_cache ? r->cache : NULL;
    const bool fold = r->cache != NULL; /* keys exist only with a cache */
    if (n > 0 && !out)
        return lore__fail(LORE_EINVAL, "output array is NULL");
    lore_status s = check_inputs(a, a_lens, n, r->kind == LORE_MODEL_NLI ? "premises" : "texts");
    if (s == LORE_OK && r->kind == LORE_MODEL_NLI)
        s = check_inputs(b, b_lens, n, "hypotheses");
    if (s == LORE_OK)
        s = grow_scratch(r, n);
    if (s != LORE_OK || n == 0)
        return s;
    r->texts_a = a;
    r->lens_a = a_lens;
    r->texts_b = b;
    r->lens_b = b_lens;
    size_t mt = (size_t)r->settings.max_tokens, dim = (size_t)r->out_dim;

    /* Cache lookups; the rest goes on the todo list. */
    size_t n_todo = 0;
    for (size_t i = 0; i < n; i++) {
        item *it = &r->items[i];
        *it = (item){.index = i,
                     .dup_of = SIZE_MAX,
                     .ids = r->ids + i * mt,
                     .types = r->types ? r->types + i * mt : NULL};
        if (fold) {
            size_t len = a_lens ? a_lens[i] : (a[i] ? strlen(a[i]) : 0);
            it->key = lore__cache_key(r->model_key, a[i], len);
            if (cache && lore__cache_get(cache, it->key, out + i * dim))
                continue;
        }
        r->order[n_todo++] = it;
    }
    /* A text asked twice in one call is encoded once (also by uncached calls). */
    if (fold && n_todo > 1) {
        qsort(r->order, n_todo, sizeof *r->order, cmp_item_key);
        size_t kept = 0;
        for (size_t j = 0; j < n_todo; j++) {
            if (kept > 0 && r->order[kept - 1]->key == r->order[j]->key)
                r->order[j]->dup_of = r->order[kept - 1]->index;
            else
                r->order[kept++] = r->order[j];
        }
        n_todo = kept;
    }
    r->todo = r->order;
    r->n_todo = n_todo;

    sync_blas_threads(r);
    clear_failures(r);
    if (r->pool && n_todo >= (size_t)r->n_workers) {
        lore__pool_run(r->pool, (size_t)r->n_workers, tokenize_task, r);
        s = collect_failures(r);
    } else {
        for (size_t j = 0; j < n_todo && s == LORE_OK; j++)
            s = tokenize_one(r, r->todo[j]);
    }
    if (s != LORE_OK)
        return s;
    for (size_t j = 0; j < n_todo; j++) {
        const lore_encode_info *info = &r->todo[j]->info;
        r->stats.n_truncated += info->truncated;
        r->stats.n_unk += (int64_t)info->n_unk;
        r->stats.n_invalid_utf8 += (int64_t)info->n_invalid_utf8;
    }
    if (r->phase_hook)
        r->phase_hook(r->phase_ctx);
    if (r->settings.sort_by_length)
        qsort(r->todo, n_todo, sizeof *r->todo, cmp_item_len);
    if ((s = run_batches(r, out)) != LORE_OK)
        return s;

    for (size_t i = 0; i < n; i++) {
        const item *it = &r->items[i];
        if (it->dup_of != SIZE_MAX)
            memcpy(out + i * dim, out + it->dup_of * dim, dim * sizeof(float));
    }
    if (cache)
        for (size_t j = 0; j < n_todo; j++)
            lore__cache_put(cache, r->todo[j]->key, out + r->todo[j]->index * dim);
    r->stats.n_texts += (int64_t)n;
    r->stats.n_encoded += (int64_t)n_todo;
    lore__counter_add(LORE_COUNTER_EMBED_TEXTS, (int64_t)n);
    return LORE_OK;
}

static void runner_stats(const runner *r, lore_encoder_stats *out)
{
    *out = r->stats;
    for (int w = 0; w < r->n_workers; w++) {
        out->n_tokens += r->fwd[w].n_tokens;
        out->n_tokens_padded += r->fwd[w].n_rows;
        out->n_flops += r->fwd[w].n_flops;
        out->workspace_grows += r->ws[w].n_grows;
        out->workspace_bytes += r->ws[w].bytes;
    }
    out->workspace_grows += r->scratch_grows;
    if (r->cache) {
        lore__cache_stats cs;
        lore__cache_get_stats(r->cache, &cs);
        out->cache_hits = cs.hits;
        out->cache_misses = cs.misses;
        out->cache_evictions = cs.evictions;
        out->cache_entries = cs.entries;
        out->cache_bytes_used = cs.bytes_used;
    }
}

static void runner_reset_stats(runner *r)
{
    memset(&r->stats, 0, sizeof r->stats);
    for (int w = 0; w < r->n_workers; w++)
        memset(&r->fwd[w], 0, sizeof r->fwd[w]);
    if (r->cache)
        lore__cache_reset_stats(r->cache);
}

/*
 * The shared body of lore_embedder_new and lore_nli_new: allocates a handle of
 * size bytes, whose first member is its runner, and initialises that runner.
 */
static lore_status handle_new(const char *fn, const lore_encoder_params *params,
                              lore_model_kind kind, size_t size, runner **out)
{
    *out = NULL;
    if (!params)
        return lore__fail(LORE_EINVAL, "%s: params is NULL", fn);
    runner *r = malloc(size);
    if (!r)
        return lore__fail(LORE_ENOMEM, "%s: out of memory", fn);
    lore_encoder_params p = *params;
    if (kind == LORE_MODEL_NLI)
        p.cache_bytes = 0; /* pairs are not cached */
    lore_status s = runner_init(r, &p, kind);
    if (s != LORE_OK) {
        runner_free(r);
        free(r);
        return s;
    }
    *out = r;
    return LORE_OK;
}

static void handle_free(runner *r)
{
    if (!r)
        return;
    runner_free(r);
    free(r);
}

/* ---- embedder ------------------------------------------------------------ */

lore_status lore_embedder_new(const lore_encoder_params *params, lore_embedder **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_embedder_new: out is NULL");
    runner *r;
    lore_status s = handle_new("lore_embedder_new", params, LORE_MODEL_EMBEDDING, sizeof **out, &r);
    *out = (lore_embedder *)r; /* the runner is the handle's first member */
    return s;
}

void lore_embedder_free(lore_embedder *e)
{
    handle_free(e ? &e->r : NULL);
}

int lore_embedder_dim(const lore_embedder *e)
{
    return e->r.out_dim;
}

void lore_embedder_get_settings(const lore_embedder *e, lore_encoder_settings *out)
{
    *out = e->r.settings;
}

void lore_embedder_get_stats(const lore_embedder *e, lore_encoder_stats *out)
{
    runner_stats(&e->r, out);
}

void lore_embedder_reset_stats(lore_embedder *e)
{
    runner_reset_stats(&e->r);
}

void lore_embedder_set_phase_hook(lore_embedder *e, void (*fn)(void *ctx), void *ctx)
{
    e->r.phase_hook = fn;
    e->r.phase_ctx = ctx;
}

const lore_tokenizer *lore_embedder_tokenizer(const lore_embedder *e)
{
    return e->r.model->tokenizer;
}

lore_status lore_embedder_embed_batch(lore_embedder *e, const char *const *texts,
                                      const size_t *lens, size_t n, float *out)
{
    if (!e)
        return lore__fail(LORE_EINVAL, "lore_embedder_embed_batch: embedder is NULL");
    return runner_call(&e->r, texts, lens, NULL, NULL, n, out, true);
}

lore_status lore_embedder_embed_batch_uncached(lore_embedder *e, const char *const *texts,
                                               const size_t *lens, size_t n, float *out)
{
    if (!e)
        return lore__fail(LORE_EINVAL, "lore_embedder_embed_batch_uncached: embedder is NULL");
    return runner_call(&e->r, texts, lens, NULL, NULL, n, out, false);
}

/* ---- NLI ----------------------------------------------------------------- */

lore_status lore_nli_new(const lore_encoder_params *params, lore_nli **out)
{
    if (!out)
        return lore__fail(LORE_EINVAL, "lore_nli_new: out is NULL");
    runner *r;
    lore_status s = handle_new("lore_nli_new", params, LORE_MODEL_NLI, sizeof **out, &r);
    *out = (lore_nli *)r; /* the runner is the handle's first member */
    return s;
}

void lore_nli_free(lore_nli *m)
{
    handle_free(m ? &m->r : NULL);
}

void lore_nli_get_settings(const lore_nli *m, lore_encoder_settings *out)
{
    *out = m->r.settings;
}

void lore_nli_get_stats(const lore_nli *m, lore_encoder_stats *out)
{
    runner_stats(&m->r, out);
}

const lore_tokenizer *lore_nli_tokenizer(const lore_nli *m)
{
    return m->r.model->tokenizer;
}

int lore_nli_n_labels(const lore_nli *m)
{
    return m->r.out_dim;
}

const char *lore_nli_label(const lore_nli *m, int i)
{
    return i >= 0 && i < m->r.out_dim ? m->r.model->labels[i] : NULL;
}

lore_status lore_nli_classify_batch(lore_nli *m, const char *const *premises,
                                    const size_t *premise_lens, const char *const *hypotheses,
                                    const size_t *hypothesis_lens, size_t n, float *probs)
{
    if (!m)
        return lore__fail(LORE_EINVAL, "lore_nli_classify_batch: model is NULL");
    return runner_call(&m->r, premises, premise_lens, hypotheses, hypothesis_lens, n, probs, false);
}
