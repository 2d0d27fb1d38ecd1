/*
 * encoder_common.c - parameters, labels and derived metrics shared by the
 * embed and nli workloads.
 */
#include "workloads/encoder_common.h"

#include <stdio.h>
#include <string.h>

const char *const bench_thread_mode_choices[] = {"blas", "workers", NULL};
const char *const bench_padding_choices[] = {"none", "batch", "max", NULL};
const char *const bench_precision_choices[] = {"f32", "bf16", NULL};

void bench_encoder_params(const bench_params *p, lore_encoder_params *out)
{
    const char *dir = bench_params_string(p, "model_dir");
    out->tier = bench_params_string(p, "tier");
    out->model_dir = dir[0] ? dir : NULL;
    out->seed = (uint64_t)bench_params_int(p, "seed");
    out->batch_size = (int)bench_params_int(p, "batch_size");
    out->n_threads = (int)bench_params_int(p, "threads");
    out->thread_mode = strcmp(bench_params_string(p, "worker_mode"), "workers") == 0
                           ? LORE_THREADS_WORKERS
                           : LORE_THREADS_BLAS;
    const char *pad = bench_params_string(p, "padding");
    out->padding = strcmp(pad, "batch") == 0 ? LORE_PADDING_BATCH
                   : strcmp(pad, "max") == 0 ? LORE_PADDING_MAX
                                             : LORE_PADDING_NONE;
    out->sort_by_length = bench_params_bool(p, "sort");
    out->precision = strcmp(bench_params_string(p, "precision"), "bf16") == 0 ? LORE_PRECISION_BF16
                                                                              : LORE_PRECISION_F32;
}

int bench_encoder_labels(const lore_encoder_settings *s, cJSON *labels)
{
    char threads[96];
    snprintf(threads, sizeof threads, "%s: %d worker(s) x %d BLAS thread(s)",
             s->thread_mode == LORE_THREADS_WORKERS ? "workers" : "blas", s->n_workers,
             s->blas_threads);
    const char *weights = s->synthetic_weights
                              ? "synthetic (seeded random weights of the tier's shapes, not a "
                                "trained model)"
                              : "trained (loaded from a model folder)";
    bool ok = cJSON_AddStringToObject(labels, "weights", weights) &&
              cJSON_AddStringToObject(labels, "model_source", s->source) &&
              cJSON_AddStringToObject(labels, "model_shapes_of", s->shape.model_id) &&
              cJSON_AddStringToObject(labels, "weights_dtype", s->weights_dtype) &&
              cJSON_AddStringToObject(labels, "kernel_isa", s->kernel_isa) &&
              cJSON_AddStringToObject(labels, "threads", threads);
    return ok ? 0 : -1;
}

int bench_encoder_metrics(const char *items_name, const lore_encoder_stats *st, uint64_t n_ops,
                          const lore_encoder_settings *s, const bench_point_measure *m, cJSON *out)
{
    if (n_ops == 0)
        return 0;
    char unit[32];
    snprintf(unit, sizeof unit, "%.*s/s", (int)strcspn(items_name, "_"), items_name);
    /* The stats cover every operation since setup, warm-up included: per-op
     * averages times the measured op rate give the rates. */
    double per_op = m->ops_per_s / (double)n_ops;
    double gflops = st->n_flops * per_op / 1e9;
    int rc = bench_metric_add(out, items_name, m->items_per_s, unit, BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "tokens_per_s", (double)st->n_tokens * per_op, "tokens/s",
                           BENCH_BETTER_HIGHER);
    rc |= bench_metric_add(out, "gflop_per_s", gflops, "GFLOP/s", BENCH_BETTER_HIGHER);
    if (m->calib_sgemm_gflops > 0)
        rc |= bench_metric_add(out, "gemm_efficiency",
                               gflops / (m->calib_sgemm_gflops * s->n_threads),
                               "ratio to calibration sgemm x threads", BENCH_BETTER_HIGHER);
    if (st->n_tokens > 0)
        rc |= bench_metric_add(out, "padded_token_ratio",
                               (double)st->n_tokens_padded / (double)st->n_tokens,
                               "rows per real token", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "workspace_grows", (double)st->workspace_grows, "count",
                           BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "workspace_bytes", (double)st->workspace_bytes, "bytes",
                           BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "synthetic_weights", s->synthetic_weights ? 1 : 0, "bool",
                           BENCH_BETTER_NONE);
    return rc ? -1 : 0;
}
