/*
 * encoder_common.h - what the embed and nli workloads share: the engine
 * parameters they both take, and the labels that say what ran.
 */
#ifndef BENCH_WORKLOADS_ENCODER_COMMON_H
#define BENCH_WORKLOADS_ENCODER_COMMON_H

#include <cjson/cJSON.h>

#include "lore/lore.h"
#include "workload.h"

extern const char *const bench_thread_mode_choices[];
extern const char *const bench_padding_choices[];
extern const char *const bench_precision_choices[];

/* The parameter specs both workloads take after their own (tier, sizes). */
#define BENCH_ENCODER_PARAM_SPECS                                                                  \
    {"threads", BENCH_PARAM_INT, "1", 1, 64, NULL, "threads", "threads the model uses"},           \
        {"worker_mode", BENCH_PARAM_STRING, "blas", 0, 0, bench_thread_mode_choices, "",           \
         "blas: one forward pass on `threads` BLAS threads; workers: `threads` workers, 1 BLAS "   \
         "thread each"},                                                                           \
        {"padding", BENCH_PARAM_STRING, "none", 0, 0, bench_padding_choices, "",                   \
         "none: packed sequences; batch: pad to the batch's longest; max: pad to seq_len"},        \
        {"sort", BENCH_PARAM_BOOL, "true", 0, 0, NULL, "", "sort inputs by length before batching"}, \
        {"precision", BENCH_PARAM_STRING, "f32", 0, 0, bench_precision_choices, "",                \
         "GEMM precision"},                                                                        \
        {"seed", BENCH_PARAM_INT, "1", 0, 1e15, NULL, "", "seed of weights and texts"}

/*
 * Fills the engine parameters from the point: tier, model_dir ("" = synthetic),
 * seed, batch_size, threads, worker_mode, padding, sort, precision.
 */
void bench_encoder_params(const bench_params *p, lore_encoder_params *out);

/* Adds the labels every encoder point carries (weights, model, kernels, threads). */
int bench_encoder_labels(const lore_encoder_settings *s, cJSON *labels);

/*
 * Adds the metrics both workloads derive from the engine's stats over n_ops
 * operations, headed by the throughput restated as items_name ("texts_per_s").
 */
int bench_encoder_metrics(const char *items_name, const lore_encoder_stats *st, uint64_t n_ops,
                          const lore_encoder_settings *s, const bench_point_measure *m,
                          cJSON *out);

#endif
