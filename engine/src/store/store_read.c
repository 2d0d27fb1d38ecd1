/*
 * store_read.c - the store's read paths: chunks by id lists and embeddings
 * by tier, in pages.
 *
 * get_chunks sorts the asked ids (with their positions) once, reads each
 * distinct id once through IN (...) statements of bucketed sizes (1, 2, 4,
 * ... up to max_bind_params; a short tail is padded with its last id, which
 * IN ignores as a duplicate), and places every row at all the positions that
 * asked for it. Sorted ids also walk the chunks' B-tree in key order.
 *
 * Strings are copied into the caller's arena, which may move while it grows,
 * so rows record arena offsets while reading and receive pointers only once
 * the arena has stopped growing: no row ever points into a freed block.
 */
#include "core/lore_int.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char chunks_select[] =
    "SELECT c.id, c.doc_id, c.ordinal, c.byte_begin, c.byte_end, c.text, d.path "
    "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN (";

void lore__store_read_free(lore_store *st)
{
    if (st->in_stmt)
        for (int b = 0; b < st->n_buckets; b++)
            sqlite3_finalize(st->in_stmt[b]);
    free(st->in_stmt);
    st->in_stmt = NULL;
    free(st->want);
    free(st->uniq);
    free(st->str_off);
    st->want = NULL;
    st->uniq = NULL;
    st->str_off = NULL;
    st->scratch_cap = 0;
}

void lore_chunk_buf_free(lore_chunk_buf *buf)
{
    if (!buf)
        return;
    free(buf->rows);
    free(buf->arena);
    memset(buf, 0, sizeof *buf);
}

/* The statement of bucket b, prepared on first use. */
static lore_status bucket_stmt(lore_store *st, int b, sqlite3_stmt **out)
{
    if (st->in_stmt[b]) {
        *out = st->in_stmt[b];
        return LORE_OK;
    }
    int k = st->in_size[b];
    size_t len = sizeof chunks_select + 2 * (size_t)k + 1;
    char *sql = malloc(len);
    if (!sql)
        return lore__fail(LORE_ENOMEM, "get_chunks: no memory for a statement of %d ids", k);
    char *p = sql + sizeof chunks_select - 1;
    memcpy(sql, chunks_select, sizeof chunks_select - 1);
    for (int i = 0; i < k; i++) {
        *p++ = i ? ',' : '?';
        if (i)
            *p++ = '?';
    }
    *p++ = ')';
    *p = '\0';
    int rc = sqlite3_prepare_v3(st->db, sql, (int)(p - sql), SQLITE_PREPARE_PERSISTENT,
                                &st->in_stmt[b], NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        char key[32];
        snprintf(key, sizeof key, "%d ids", k);
        return lore__store_fail(st, rc, "get_chunks: preparing IN", key);
    }
    *out = st->in_stmt[b];
    return LORE_OK;
}

/* The bucket for r remaining ids: the smallest that holds them all, or the largest. */
static int pick_bucket(const lore_store *st, size_t r)
{
    int last = st->n_buckets - 1;
    for (int b = 0; b < last; b++)
        if ((size_t)st->in_size[b] >= r)
            return b;
    return last;
}

static int cmp_want(const void *a, const void *b)
{
    const lore__store_want *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* First entry of want[0..n) with id >= key. */
static size_t lower_bound(const lore__store_want *want, size_t n, int64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (want[mid].id < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static lore_status grow_scratch(lore_store *st, size_t n)
{
    if (n <= st->scratch_cap)
        return LORE_OK;
    size_t cap = st->scratch_cap ? st->scratch_cap : 64;
    while (cap < n)
        cap *= 2;
    lore__store_want *want = realloc(st->want, cap * sizeof *want);
    if (want)
        st->want = want;
    int64_t *uniq = want ? realloc(st->uniq, cap * sizeof *uniq) : NULL;
    if (uniq)
        st->uniq = uniq;
    size_t *off = uniq ? realloc(st->str_off, 2 * cap * sizeof *off) : NULL;
    if (!off)
        return lore__fail(LORE_ENOMEM, "get_chunks: no memory for %zu ids", n);
    st->str_off = off;
    st->scratch_cap = cap;
    return LORE_OK;
}

static lore_status grow_rows(lore_chunk_buf *out, size_t n)
{
    if (n <= out->cap)
        return LORE_OK;
    size_t cap = out->cap ? out->cap : 16;
    while (cap < n)
        cap *= 2;
    lore_chunk_rec *rows = realloc(out->rows, cap * sizeof *rows);
    if (!rows)
        return lore__fail(LORE_ENOMEM, "get_chunks: no memory for %zu rows", n);
    out->rows = rows;
    out->cap = cap;
    return LORE_OK;
}

/* Appends len bytes and a NUL to the arena; *off receives where they start. */
static lore_status arena_put(lore_chunk_buf *out, const void *p, size_t len, size_t *off)
{
    size_t need = out->arena_len + len + 1;
    if (need > out->arena_cap) {
        size_t cap = out->arena_cap ? out->arena_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *a = realloc(out->arena, cap);
        if (!a)
            return lore__fail(LORE_ENOMEM, "get_chunks: no memory for %zu bytes of text", need);
        out->arena = a;
        out->arena_cap = cap;
    }
    *off = out->arena_len;
    if (len)
        memcpy(out->arena + out->arena_len, p, len);
    out->arena[out->arena_len + len] = '\0';
    out->arena_len = need;
    return LORE_OK;
}

/* Reads the rows of one bound IN statement into every position that asked for them. */
static lore_status read_bucket(lore_store *st, sqlite3_stmt *q, lore_chunk_buf *out, size_t n,
                               lore__store_work *w)
{
    int rc;
    lore_status s = LORE_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        size_t j = lower_bound(st->want, n, id);
        if (j == n || st->want[j].id != id)
            continue; /* cannot happen: only asked ids are bound */
        const void *text = sqlite3_column_text(q, 5);
        size_t text_len = (size_t)sqlite3_column_bytes(q, 5);
        const void *path = sqlite3_column_text(q, 6);
        size_t path_len = (size_t)sqlite3_column_bytes(q, 6);
        if ((!text && text_len) || (!path && path_len)) {
            rc = SQLITE_NOMEM;
            break;
        }
        size_t text_off, path_off;
        s = arena_put(out, text, text_len, &text_off);
        if (s == LORE_OK)
            s = arena_put(out, path, path_len, &path_off);
        if (s != LORE_OK)
            break;
        lore_chunk_rec rec = {
            .id = id,
            .found = true,
            .doc_id = sqlite3_column_int64(q, 1),
            .ordinal = (int32_t)sqlite3_column_int(q, 2),
            .byte_begin = sqlite3_column_int64(q, 3),
            .byte_end = sqlite3_column_int64(q, 4),
            .text_len = text_len,
        };
        for (; j < n && st->want[j].id == id; j++) {
            size_t pos = st->want[j].pos;
            out->rows[pos] = rec;
            st->str_off[2 * pos] = text_off;
            st->str_off[2 * pos + 1] = path_off;
        }
        w->rows_read++;
    }
    if (s == LORE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        s = lore__store_fail(st, rc, "get_chunks", NULL);
    sqlite3_reset(q);
    w->statements++;
    return s;
}

lore_status lore_store_get_chunks(lore_store *st, const int64_t *ids, size_t n, lore_chunk_buf *out)
{
    if (!st || !out || (n > 0 && !ids))
        return lore__fail(LORE_EINVAL, "get_chunks: %s is NULL", !st ? "st" : !out ? "out" : "ids");
    out->n = 0;
    out->arena_len = 0;
    if (n == 0)
        return LORE_OK;
    lore_status s = grow_scratch(st, n);
    if (s == LORE_OK)
        s = grow_rows(out, n);
    if (s != LORE_OK)
        return s;

    for (size_t i = 0; i < n; i++) {
        st->want[i].id = ids[i];
        st->want[i].pos = i;
        memset(&out->rows[i], 0, sizeof out->rows[i]);
        out->rows[i].id = ids[i];
    }
    qsort(st->want, n, sizeof *st->want, cmp_want);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || st->uniq[m - 1] != st->want[i].id)
            st->uniq[m++] = st->want[i].id;

    lore__store_work w = {0};
    for (size_t start = 0; start < m && s == LORE_OK;) {
        int b = pick_bucket(st, m - start);
        sqlite3_stmt *q = NULL;
        s = bucket_stmt(st, b, &q);
        if (s != LORE_OK)
            break;
        size_t k = (size_t)st->in_size[b], take = m - start < k ? m - start : k;
        for (size_t j = 0; j < k; j++)
            sqlite3_bind_int64(q, (int)j + 1, st->uniq[start + (j < take ? j : take - 1)]);
        s = read_bucket(st, q, out, n, &w);
        start += take;
    }
    if (s == LORE_OK) {
        for (size_t i = 0; i < n; i++) {
            lore_chunk_rec *r = &out->rows[i];
            if (r->found) {
                r->text = out->arena + st->str_off[2 * i];
                r->path = out->arena + st->str_off[2 * i + 1];
            }
        }
        out->n = n;
    } else {
        out->arena_len = 0;
    }
    lore__store_flush_work(st, &w);
    return s;
}

/* ---- embeddings ------------------------------------------------------------------- */

lore_status lore_store_count_embeddings(lore_store *st, const char *tier, int64_t *n, int *dim)
{
    if (!st || !tier || !*tier || !n || !dim)
        return lore__fail(LORE_EINVAL, "count_embeddings: %s is NULL or empty",
                          !st                 ? "st"
                          : (!tier || !*tier) ? "tier"
                          : !n                ? "n"
                                              : "dim");
    *n = 0;
    *dim = 0;
    sqlite3_stmt *q = st->stmt[LORE__ST_EMB_COUNT];
    sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW)
        return lore__store_fail(st, rc, "count_embeddings", tier);
    if (count == 0)
        return LORE_OK;
    q = st->stmt[LORE__ST_TIER_DIM];
    sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    int64_t d = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lore__store_fail(st, rc, "count_embeddings", tier);
    if (d < 1 || d > INT32_MAX)
        return lore__fail(LORE_ECORRUPT,
                          "count_embeddings '%s': %" PRId64 " vectors but %s dimension %" PRId64
                          " in meta (store %s)",
                          tier, count, rc == SQLITE_ROW ? "a bad" : "no", d, st->path);
    *n = count;
    *dim = (int)d;
    return LORE_OK;
}

lore_status lore_store_get_embeddings(lore_store *st, const char *tier, int dim, int64_t after_id,
                                      size_t max_n, int64_t *ids, float *vectors, size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!st || !tier || !*tier || !n_out || (max_n > 0 && (!ids || !vectors)))
        return lore__fail(LORE_EINVAL, "get_embeddings: %s is NULL or empty",
                          !st               ? "st"
                          : !tier || !*tier ? "tier"
                          : !n_out          ? "n_out"
                          : !ids            ? "ids"
                                            : "vectors");
    if (dim < 1)
        return lore__fail(LORE_EINVAL, "get_embeddings '%s': dim must be >= 1 (got %d)", tier, dim);
    if (max_n == 0)
        return LORE_OK;
    lore__store_work w = {0};
    size_t vec_bytes = (size_t)dim * sizeof(float);
    sqlite3_stmt *q = st->stmt[LORE__ST_EMB_PAGE];
    sqlite3_bind_text(q, 1, tier, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, after_id);
    sqlite3_bind_int64(q, 3, max_n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max_n);
    lore_status s = LORE_OK;
    size_t k = 0;
    int rc = SQLITE_DONE;
    while (k < max_n && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        const void *v = sqlite3_column_blob(q, 1);
        size_t bytes = (size_t)sqlite3_column_bytes(q, 1);
        if (bytes != vec_bytes || !v) {
            s = lore__fail(LORE_ECORRUPT,
                           "get_embeddings '%s': chunk %" PRId64 " has a vector of %zu bytes, "
                           "expected %zu for dim %d (store %s)",
                           tier, id, bytes, vec_bytes, dim, st->path);
            break;
        }
        ids[k] = id;
        memcpy(vectors + k * (size_t)dim, v, vec_bytes);
        k++;
    }
    if (s == LORE_OK && k < max_n && rc != SQLITE_DONE)
        s = lore__store_fail(st, rc, "get_embeddings", tier);
    sqlite3_reset(q);
    w.statements++;
    if (s == LORE_OK) {
        *n_out = k;
        w.rows_read += (int64_t)k;
    }
    lore__store_flush_work(st, &w);
    return s;
}
