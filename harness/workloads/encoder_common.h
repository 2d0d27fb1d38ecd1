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

/*
 * Fills the engine parameters from the point: tier, model_dir ("" = synthetic),
 * seed, batch_size, threads, worker_mode, padding, sort, precision.
 */
void bench_encoder_params(const bench_params *p, lore_encoder_params *out);

/* Adds the labels every encoder point carries (weights, model, kernels, threads). */
int bench_encoder_labels(const lore_encoder_settings *s, cJSON *labels);

/* Adds the metrics both workloads derive from the engine's stats over n_ops operations. */
int bench_encoder_metrics(const lore_encoder_stats *st, uint64_t n_ops,
                          const lore_encoder_settings *s, const bench_point_measure *m,
                          cJSON *out);

#endif
