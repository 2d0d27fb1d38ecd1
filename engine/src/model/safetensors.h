/*
 * safetensors.h - a validating reader of the safetensors format, memory-mapped.
 *
 * Layout (little-endian):
 *   offset 0      u64   N, the byte length of the JSON header
 *   offset 8      N     JSON object: "name": {"dtype": "F32", "shape": [..],
 *                       "data_offsets": [begin, end]}, optional "__metadata__"
 *   offset 8 + N  data  tensor bytes; offsets are relative to this point
 *
 * Every tensor is checked on open: dtype known to the format, shape
 * non-negative, begin <= end inside the data region, end - begin equal to
 * the element count times the dtype size, no two tensors overlapping. A file
 * that fails any check is rejected with the file name, the tensor and the
 * values that disagree.
 */
#ifndef LORE_MODEL_SAFETENSORS_H
#define LORE_MODEL_SAFETENSORS_H

#include "core/lore_int.h"

#define LORE__ST_MAX_DIMS 8

typedef enum lore__dtype {
    LORE__DT_F32 = 0,
    LORE__DT_F16,
    LORE__DT_BF16,
    LORE__DT_OTHER, /* a dtype of the format lore does not compute with (I64, U8, ...) */
} lore__dtype;

typedef struct lore__st_tensor {
    char *name;
    lore__dtype dtype;
    char dtype_name[16]; /* as written in the file: "F32", "I64", ... */
    int ndim;
    int64_t shape[LORE__ST_MAX_DIMS];
    int64_t n_elem;
    const void *data; /* inside the mapping; may be unaligned */
    size_t nbytes;
} lore__st_tensor;

typedef struct lore__safetensors {
    char *path;
    lore__st_tensor *tensors;
    size_t n_tensors;
    void *map;
    size_t map_bytes;
} lore__safetensors;

/* Maps and validates path. *out is NULL on failure (LORE_EIO, LORE_ECORRUPT, LORE_ENOMEM). */
lore_status lore__safetensors_open(const char *path, lore__safetensors **out);

/* The tensor named name, or NULL. */
const lore__st_tensor *lore__safetensors_find(const lore__safetensors *st, const char *name);

/* Unmaps and frees; NULL is allowed. */
void lore__safetensors_close(lore__safetensors *st);

/* Bytes per element of dtype (0 for LORE__DT_OTHER). */
size_t lore__dtype_size(lore__dtype dt);

#endif
