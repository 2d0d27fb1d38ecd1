/*
 * safetensors.c - maps a safetensors file read-only and validates all of it
 * before anyone reads a tensor.
 *
 * Layout (little-endian; see safetensors.h):
 *   [0, 8)          u64 N, the JSON header's byte length
 *   [8, 8 + N)      JSON object of tensors (+ optional "__metadata__"), possibly
 *                   padded with spaces
 *   [8 + N, size)   the data region; data_offsets are relative to its start
 *
 * Invariants after a successful open: every tensor's bytes lie inside the data
 * region, their length is exactly n_elem * dtype size (computed without
 * overflow), no two tensors share a byte, names are unique, and the tensor
 * array is sorted by name (lookups are a binary search). The mapping is
 * PROT_READ and MAP_PRIVATE: the file is never written through it.
 */
#include "core/lore_int.h"

#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The format's own cap on the header (the reference reader refuses larger ones). */
#define ST_MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)
/* Integers in the header are JSON numbers (doubles): exact only up to 2^53. */
#define ST_MAX_EXACT_INT 9007199254740992.0

typedef struct st_dtype_info {
    const char *name;
    size_t size;
    lore__dtype dt;
} st_dtype_info;

/* Every dtype of the format with a whole number of bytes per element. */
static const st_dtype_info st_dtypes[] = {
    {"F64", 8, LORE__DT_OTHER},  {"F32", 4, LORE__DT_F32},       {"F16", 2, LORE__DT_F16},
    {"BF16", 2, LORE__DT_BF16},  {"I64", 8, LORE__DT_OTHER},     {"I32", 4, LORE__DT_OTHER},
    {"I16", 2, LORE__DT_OTHER},  {"I8", 1, LORE__DT_OTHER},      {"U64", 8, LORE__DT_OTHER},
    {"U32", 4, LORE__DT_OTHER},  {"U16", 2, LORE__DT_OTHER},     {"U8", 1, LORE__DT_OTHER},
    {"BOOL", 1, LORE__DT_OTHER}, {"F8_E4M3", 1, LORE__DT_OTHER}, {"F8_E5M2", 1, LORE__DT_OTHER},
};

size_t lore__dtype_size(lore__dtype dt)
{
    switch (dt) {
    case LORE__DT_F32:
        return 4;
    case LORE__DT_F16:
    case LORE__DT_BF16:
        return 2;
    default:
        return 0;
    }
}

static const st_dtype_info *st_dtype_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0)
            return &st_dtypes[i];
    return NULL;
}

/* A JSON number that is an integer in [0, 2^53]; the caller names the field on failure. */
static bool st_json_uint(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_EXACT_INT) || d != (double)(int64_t)d)
        return false;
    *out = (int64_t)d;
    return true;
}

/* Writes shape as "[a, b, c]" into buf (truncating harmlessly). */
static void st_shape_str(const lore__st_tensor *t, char *buf, size_t cap)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < t->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/* Parses one tensor entry into t (name already set); data_len bounds the offsets. */
static lore_status st_parse_tensor(const char *path, const cJSON *entry, uint64_t data_len,
                                   const unsigned char *data, lore__st_tensor *t,
                                   int64_t *begin_out, int64_t *end_out)
{
    const char *name = t->name;
    if (!cJSON_IsObject(entry))
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': entry is not a JSON object", path, name);

    const cJSON *jdt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(jdt))
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': 'dtype' missing or not a string", path,
                          name);
    const st_dtype_info *info = st_dtype_lookup(jdt->valuestring);
    if (!info)
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': unknown dtype '%.32s'", path, name,
                          jdt->valuestring);
    t->dtype = info->dt;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", info->name);

    const cJSON *jshape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(jshape))
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': 'shape' missing or not an array", path,
                          name);
    int ndim = cJSON_GetArraySize(jshape);
    if (ndim > LORE__ST_MAX_DIMS)
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': %d dimensions (at most %d)", path, name,
                          ndim, LORE__ST_MAX_DIMS);
    t->ndim = ndim;
    /* The element count saturates at a bound no real tensor reaches, so the
     * product never overflows and a lie still fails the size check below. */
    int64_t n_elem = 1;
    int i = 0;
    const cJSON *jd;
    cJSON_ArrayForEach(jd, jshape)
    {
        int64_t d;
        if (!st_json_uint(jd, &d))
            return lore__fail(LORE_ECORRUPT,
                              "%s: tensor '%s': shape[%d] is not a non-negative integer", path,
                              name, i);
        t->shape[i++] = d;
        if (n_elem != 0 && d != 0 && __builtin_mul_overflow(n_elem, d, &n_elem))
            return lore__fail(LORE_ECORRUPT,
                              "%s: tensor '%s': element count overflows (dimension %d is %lld)",
                              path, name, i - 1, (long long)d);
        if (d == 0)
            n_elem = 0;
    }
    t->n_elem = n_elem;
    int64_t nbytes;
    if (__builtin_mul_overflow(n_elem, (int64_t)info->size, &nbytes))
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': byte size overflows (%lld elements)",
                          path, name, (long long)n_elem);

    const cJSON *joff = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    int64_t begin, end;
    if (!cJSON_IsArray(joff) || cJSON_GetArraySize(joff) != 2 ||
        !st_json_uint(cJSON_GetArrayItem(joff, 0), &begin) ||
        !st_json_uint(cJSON_GetArrayItem(joff, 1), &end))
        return lore__fail(LORE_ECORRUPT,
                          "%s: tensor '%s': 'data_offsets' is not two non-negative integers", path,
                          name);
    if (begin > end)
        return lore__fail(LORE_ECORRUPT, "%s: tensor '%s': data_offsets [%lld, %lld] run backwards",
                          path, name, (long long)begin, (long long)end);
    if ((uint64_t)end > data_len)
        return lore__fail(LORE_ECORRUPT,
                          "%s: tensor '%s': data_offsets [%lld, %lld] end past the data region "
                          "(%llu bytes)",
                          path, name, (long long)begin, (long long)end,
                          (unsigned long long)data_len);
    if (end - begin != nbytes) {
        char shape[128];
        st_shape_str(t, shape, sizeof shape);
        return lore__fail(LORE_ECORRUPT,
                          "%s: tensor '%s': data_offsets [%lld, %lld] hold %lld bytes, but shape "
                          "%s of %s needs %lld",
                          path, name, (long long)begin, (long long)end, (long long)(end - begin),
                          shape, info->name, (long long)nbytes);
    }
    t->data = data + begin;
    t->nbytes = (size_t)nbytes;
    *begin_out = begin;
    *end_out = end;
    return LORE_OK;
}

static int st_cmp_name(const void *a, const void *b)
{
    return strcmp(((const lore__st_tensor *)a)->name, ((const lore__st_tensor *)b)->name);
}

typedef struct st_range {
    int64_t begin, end;
    size_t tensor; /* index into the (unsorted) parse order */
} st_range;

static int st_cmp_range(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Parses and checks the header JSON; fills st->tensors (sorted by name). */
static lore_status st_parse_header(lore__safetensors *st, const char *json, size_t json_len,
                                   const unsigned char *data, uint64_t data_len)
{
    const char *path = st->path;
    lore_status s = LORE_OK;
    st_range *ranges = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, json_len, &end, false);
    if (!root) {
        /* cJSON reports where it stopped; an allocation failure looks the same,
         * but a header that fits in memory and parses elsewhere is rare enough. */
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return lore__fail(LORE_ECORRUPT, "%s: header is not valid JSON (byte %zu of %zu)", path, at,
                          json_len);
    }
    /* The writer may pad the header with spaces to align the data region. */
    for (const char *p = end; p < json + json_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            s = lore__fail(LORE_ECORRUPT, "%s: header has trailing bytes after the JSON (byte %zu)",
                           path, (size_t)(p - json));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        s = lore__fail(LORE_ECORRUPT, "%s: header is not a JSON object", path);
        goto done;
    }

    size_t n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root)
    {
        if (!entry->string)
            continue;
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(entry)) {
                s = lore__fail(LORE_ECORRUPT, "%s: '__metadata__' is not a JSON object", path);
                goto done;
            }
            continue;
        }
        n++;
    }
    if (n) {
        st->tensors = calloc(n, sizeof *st->tensors);
        ranges = malloc(n * sizeof *ranges);
        if (!st->tensors || !ranges) {
            s = lore__fail(LORE_ENOMEM, "%s: out of memory for %zu tensor descriptors", path, n);
            goto done;
        }
    }
    size_t i = 0;
    cJSON_ArrayForEach(entry, root)
    {
        if (!entry->string || strcmp(entry->string, "__metadata__") == 0)
            continue;
        lore__st_tensor *t = &st->tensors[i];
        t->name = strdup(entry->string);
        if (!t->name) {
            s = lore__fail(LORE_ENOMEM, "%s: out of memory for tensor names", path);
            goto done;
        }
        st->n_tensors = ++i; /* close() frees the names parsed so far */
        s = st_parse_tensor(path, entry, data_len, data, t, &ranges[i - 1].begin,
                            &ranges[i - 1].end);
        if (s != LORE_OK)
            goto done;
        ranges[i - 1].tensor = i - 1;
    }

    /* No two tensors may share a byte: sorted by offset, each starts at or after
     * the furthest end so far. Empty tensors own no bytes. */
    if (n > 1)
        qsort(ranges, n, sizeof *ranges, st_cmp_range);
    int64_t reach = 0;
    size_t reach_tensor = 0;
    for (size_t k = 0; k < n; k++) {
        if (ranges[k].begin == ranges[k].end)
            continue;
        if (ranges[k].begin < reach) {
            const lore__st_tensor *a = &st->tensors[reach_tensor];
            const lore__st_tensor *b = &st->tensors[ranges[k].tensor];
            s = lore__fail(LORE_ECORRUPT,
                           "%s: tensor '%s': data_offsets [%lld, %lld] overlap tensor '%s' "
                           "(which ends at %lld)",
                           path, b->name, (long long)ranges[k].begin, (long long)ranges[k].end,
                           a->name, (long long)reach);
            goto done;
        }
        reach = ranges[k].end;
        reach_tensor = ranges[k].tensor;
    }

    if (n > 1)
        qsort(st->tensors, n, sizeof *st->tensors, st_cmp_name);
    for (size_t k = 1; k < n; k++) {
        if (strcmp(st->tensors[k - 1].name, st->tensors[k].name) == 0) {
            s = lore__fail(LORE_ECORRUPT, "%s: tensor '%s' appears twice in the header", path,
                           st->tensors[k].name);
            goto done;
        }
    }

done:
    free(ranges);
    cJSON_Delete(root);
    return s;
}

lore_status lore__safetensors_open(const char *path, lore__safetensors **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return lore__fail(LORE_EINVAL, "safetensors open: %s is NULL", path ? "out" : "path");

    lore_status s = LORE_OK;
    int fd = -1;
    lore__safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return lore__fail(LORE_ENOMEM, "%s: out of memory", path);
    st->path = strdup(path);
    if (!st->path) {
        s = lore__fail(LORE_ENOMEM, "%s: out of memory", path);
        goto fail;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s = lore__fail(LORE_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        s = lore__fail(LORE_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        s = lore__fail(LORE_EIO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        s = lore__fail(LORE_ECORRUPT,
                       "%s: file is %llu bytes, too short for the 8-byte header length", path,
                       (unsigned long long)size);
        goto fail;
    }
    if (size > SIZE_MAX) {
        s = lore__fail(LORE_EUNSUPPORTED, "%s: %llu bytes do not fit the address space", path,
                       (unsigned long long)size);
        goto fail;
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        s = lore__fail(errno == ENOMEM ? LORE_ENOMEM : LORE_EIO, "%s: cannot map %llu bytes: %s",
                       path, (unsigned long long)size, strerror(errno));
        goto fail;
    }
    st->map = map;
    st->map_bytes = (size_t)size;
    close(fd);
    fd = -1;

    const unsigned char *bytes = map;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | bytes[i];
    if (header_len > size - 8) {
        s = lore__fail(LORE_ECORRUPT,
                       "%s: header length %llu is larger than the %llu bytes after it (file is "
                       "%llu bytes)",
                       path, (unsigned long long)header_len, (unsigned long long)(size - 8),
                       (unsigned long long)size);
        goto fail;
    }
    if (header_len > ST_MAX_HEADER_BYTES) {
        s = lore__fail(LORE_ECORRUPT, "%s: header length %llu exceeds the format's limit of %llu",
                       path, (unsigned long long)header_len,
                       (unsigned long long)ST_MAX_HEADER_BYTES);
        goto fail;
    }
    s = st_parse_header(st, (const char *)bytes + 8, (size_t)header_len, bytes + 8 + header_len,
                        size - 8 - header_len);
    if (s != LORE_OK)
        goto fail;
    *out = st;
    return LORE_OK;

fail:
    if (fd >= 0)
        close(fd);
    lore__safetensors_close(st);
    return s;
}

const lore__st_tensor *lore__safetensors_find(const lore__safetensors *st, const char *name)
{
    if (!st || !name || !st->n_tensors)
        return NULL;
    lore__st_tensor key = {.name = (char *)name};
    return bsearch(&key, st->tensors, st->n_tensors, sizeof *st->tensors, st_cmp_name);
}

void lore__safetensors_close(lore__safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap(st->map, st->map_bytes);
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    free(st);
}
