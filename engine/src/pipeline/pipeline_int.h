/*
 * pipeline_int.h - what the pipeline's files share: the handle, the clock,
 * and the index helpers ingest needs at the end of a call.
 *
 * Invariants:
 *   - index always exists and has the store's dimension; index_gen is the
 *     store generation whose embeddings it holds exactly (every chunk id of
 *     the tier, once), meaningful while index_stale is false.
 *   - snapshot_saved is true while the snapshot "<tier>/<kind>" in the store
 *     holds this index stamped with index_gen; any change to the index
 *     clears it.
 *   - The pipeline is the one engine module that reads a clock (see
 *     lore/pipeline.h): stage times are taken here because only the pipeline
 *     sees its stage boundaries.
 */
#ifndef LORE_PIPELINE_INT_H
#define LORE_PIPELINE_INT_H

#include "core/lore_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Longest tier name (the embedder's shape name) a pipeline accepts. */
#define LORE__PIPE_TIER_MAX 128

struct lore_pipeline {
    lore_pipeline_params p; /* as given, defaults filled in; model strings not kept */
    lore_store *store;
    char *db_path; /* as opened, so ingest can pass over the store's own files */
    lore_embedder *embedder;
    bool own_embedder;
    lore_nli *nli;
    bool own_nli;
    int nli_entail, nli_neutral, nli_contra; /* label indices of the NLI model */

    lore_index *index;
    lore_index_params index_p; /* what the caller asked for, dim filled in */
    int dim;
    char tier[LORE__PIPE_TIER_MAX];
    char snapshot_name[LORE__PIPE_TIER_MAX + 16];

    int64_t index_gen;
    bool index_stale;    /* the index may miss or hold stale vectors: rebuild before use */
    bool snapshot_saved; /* the stored snapshot is this index at index_gen */
    int64_t n_stored;    /* embeddings of the tier at the last (re)build or load */
};

static inline int64_t lore__pipe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Builds a fresh index from the tier's stored embeddings, replacing p->index
 * on success (IVF: trained on a sample of them first; fewer vectors than
 * n_lists leave it empty and untrained). Sets index_gen to the generation read
 * before the first vector, so a concurrent write makes it stale, never wrong.
 * *n_added (may be NULL) receives the vectors added.
 */
lore_status lore__pipeline_rebuild(lore_pipeline *p, int64_t *n_added);

/*
 * Saves the index as the snapshot "<tier>/<kind>" stamped with index_gen,
 * unless it is saved already, the index is stale, or the store is read-only.
 */
lore_status lore__pipeline_save(lore_pipeline *p);

#endif
