/*
 * test_store.c - the SQLite store: schema and identity (checked with SQLite
 * itself, not through the store), round trips with exact bytes, replace and
 * delete semantics, id-list reads for every bucket size, paged embeddings,
 * snapshots, transactions and their rollback on any failure, a full disk,
 * read-only handles, and files the store must refuse without changing them
 * (not SQLite, another application's database, a newer schema, corruption).
 *
 * Files live in a fresh folder under /tmp, removed at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lore/lore.h"
#include "test_util.h"

static char tmp_dir[64];

/* ---- helpers --------------------------------------------------------------------------- */

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

/* Removes a database and its WAL companions. */
static void rm_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", path);
    unlink(p);
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* Runs SQL on a file with SQLite directly (no store involved). */
static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("sqlite3_exec(%s): %s", sql, err ? err : "?");
    sqlite3_close(db);
}

/* The first column of the first row of sql, as an integer. */
static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static lore_store *open_ok(const char *path, const lore_store_params *p)
{
    lore_store *st = NULL;
    lore_status s = lore_store_open(path, p, &st);
    if (s != LORE_OK)
        fail_msg("open %s: %s", path, lore_last_error());
    assert_non_null(st);
    return st;
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* A document of n chunks with deterministic text and vectors, owned by the struct. */
typedef struct test_doc {
    char path[64];
    lore_doc_info info;
    lore_chunk_row *rows;
    char *text;
    float *vec;
    int64_t *ids;
    size_t n;
    int dim;
} test_doc;

static void doc_make(test_doc *d, const char *path, size_t n, int dim, size_t text_len,
                     uint32_t seed)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    d->info.path = d->path;
    for (int i = 0; i < 16; i++)
        d->info.hash[i] = (uint8_t)(seed * 31 + (uint32_t)i);
    d->info.size_bytes = (int64_t)(n * text_len);
    d->info.mtime_ns = 1700000000000000000 + seed;
    d->n = n;
    d->dim = dim;
    d->rows = calloc(n ? n : 1, sizeof *d->rows);
    d->text = malloc(n * text_len + 1);
    d->vec = malloc((n ? n : 1) * (size_t)(dim ? dim : 1) * sizeof(float));
    d->ids = calloc(n ? n : 1, sizeof *d->ids);
    assert_true(d->rows && d->text && d->vec && d->ids);
    for (size_t i = 0; i < n * text_len; i++)
        d->text[i] = (char)('a' + (seed + i * 7 + i / 13) % 26);
    for (size_t i = 0; i < n; i++) {
        d->rows[i].ordinal = (int32_t)i;
        d->rows[i].byte_begin = (int64_t)(i * text_len);
        d->rows[i].byte_end = (int64_t)((i + 1) * text_len);
        d->rows[i].text = d->text + i * text_len;
        d->rows[i].text_len = text_len;
        /* The chunk's first byte names its seed and ordinal, so a wrong row shows. */
        if (text_len)
            d->text[i * text_len] = (char)('A' + (seed + i) % 26);
    }
    for (size_t i = 0; i < n * (size_t)dim; i++)
        d->vec[i] = (float)(seed + 1) * 0.001f + (float)i * 0.5f;
}

static void doc_free(test_doc *d)
{
    free(d->rows);
    free(d->text);
    free(d->vec);
    free(d->ids);
}

static void doc_put(lore_store *st, test_doc *d, const char *tier)
{
    lore_status s = lore_store_put_document(st, &d->info, d->rows, d->n, tier, d->dim,
                                            tier ? d->vec : NULL, NULL, d->ids, NULL);
    if (s != LORE_OK)
        fail_msg("put_document %s: %s", d->path, lore_last_error());
}

/* Asserts that rec holds row i of d exactly. */
static void assert_rec_is(const lore_chunk_rec *rec, const test_doc *d, size_t i)
{
    assert_true(rec->found);
    assert_int_equal(rec->id, d->ids[i]);
    assert_int_equal(rec->ordinal, d->rows[i].ordinal);
    assert_int_equal(rec->byte_begin, d->rows[i].byte_begin);
    assert_int_equal(rec->byte_end, d->rows[i].byte_end);
    assert_int_equal(rec->text_len, d->rows[i].text_len);
    assert_memory_equal(rec->text, d->rows[i].text, d->rows[i].text_len);
    assert_int_equal(rec->text[rec->text_len], '\0');
    assert_string_equal(rec->path, d->path);
}

static int64_t n_rows(lore_store *st)
{
    lore_store_info info;
    assert_int_equal(lore_store_get_info(st, &info), LORE_OK);
    return info.n_chunks;
}

/* ---- schema, identity, reopen ------------------------------------------------------------ */

static void test_open_creates_schema(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    lore_store_info info;
    assert_int_equal(lore_store_get_info(st, &info), LORE_OK);
    assert_int_equal(info.n_documents, 0);
    assert_int_equal(info.n_chunks, 0);
    assert_int_equal(info.schema_version, LORE_STORE_SCHEMA_VERSION);
    assert_string_equal(info.sqlite_version, sqlite3_libversion());
    assert_true(info.file_bytes > 0);
    lore_store_close(st);

    const char *path = tmp_path("schema.db");
    rm_db(path);
    st = open_ok(path, NULL);
    lore_store_close(st);
    assert_int_equal(sql_int(path, "PRAGMA application_id"), 0x4c4f5245);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), LORE_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(path, "PRAGMA page_size"), 8192);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                   "name IN ('documents', 'chunks', 'embeddings', 'snapshots', "
                                   "'meta')"),
                     5);
    /* WAL is recorded in the header (bytes 18 and 19 are 2). */
    size_t len;
    unsigned char *b = read_file(path, &len);
    assert_true(len >= 100);
    assert_int_equal(b[18], 2);
    assert_int_equal(b[19], 2);
    free(b);
    /* Reopening an existing store changes nothing about its identity. */
    st = open_ok(path, NULL);
    lore_store_close(st);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), LORE_STORE_SCHEMA_VERSION);
    rm_db(path);
}

static void test_reopen_keeps_data(void **state)
{
    (void)state;
    const char *path = tmp_path("reopen.db");
    rm_db(path);
    test_doc d;
    doc_make(&d, "notes/a.txt", 5, 8, 40, 1);
    lore_store *st = open_ok(path, NULL);
    doc_put(st, &d, "mini");
    int64_t g0;
    assert_int_equal(lore_store_generation(st, &g0), LORE_OK);
    lore_store_close(st);

    st = open_ok(path, NULL);
    int64_t id;
    uint8_t hash[16];
    assert_int_equal(lore_store_find_document(st, d.path, &id, hash), LORE_OK);
    assert_true(id > 0);
    assert_memory_equal(hash, d.info.hash, 16);
    int64_t g1;
    assert_int_equal(lore_store_generation(st, &g1), LORE_OK);
    assert_int_equal(g1, g0);
    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, d.ids, d.n, &buf), LORE_OK);
    assert_int_equal(buf.n, d.n);
    for (size_t i = 0; i < d.n; i++) {
        assert_rec_is(&buf.rows[i], &d, i);
        assert_int_equal(buf.rows[i].doc_id, id);
    }
    lore_chunk_buf_free(&buf);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);
    /* Independent count with SQLite. */
    assert_int_equal(sql_int(path, "SELECT count(*) FROM chunks"), 5);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM embeddings WHERE length(vector) = 32"), 5);
    doc_free(&d);
    rm_db(path);
}

/* ---- documents ------------------------------------------------------------------------- */

static void test_round_trip_exact_bytes(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    /* Text with a NUL inside, multi-byte UTF-8, invalid UTF-8 and an empty chunk. */
    static const char t0[] = "h\xc3\xa9llo\0w\xe2\x82\xacrld";
    static const char t2[] = "\xff\xfe bad \xc3";
    lore_chunk_row rows[3] = {
        {.ordinal = 0, .byte_begin = 0, .byte_end = 14, .text = t0, .text_len = sizeof t0 - 1},
        {.ordinal = 1, .byte_begin = 14, .byte_end = 14, .text = NULL, .text_len = 0},
        {.ordinal = 2, .byte_begin = 10, .byte_end = 30, .text = t2, .text_len = sizeof t2 - 1},
    };
    float vec[3 * 3] = {1.5f, -0.0f, 3e-38f, 1e30f, -2.25f, 0.1f, 7.0f, 8.0f, -9.5f};
    lore_doc_info doc = {.path = "d\xc3\xa9j\xc3\xa0 vu.md", .size_bytes = 30, .mtime_ns = -5};
    for (int i = 0; i < 16; i++)
        doc.hash[i] = (uint8_t)(0xf0 + i);
    int64_t doc_id = 0, ids[3], replaced = -1;
    assert_int_equal(
        lore_store_put_document(st, &doc, rows, 3, "tier-a", 3, vec, &doc_id, ids, &replaced),
        LORE_OK);
    assert_true(doc_id > 0);
    assert_int_equal(replaced, 0);
    assert_true(ids[0] > 0 && ids[1] > ids[0] && ids[2] > ids[1]);

    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, ids, 3, &buf), LORE_OK);
    assert_int_equal(buf.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(buf.rows[i].found);
        assert_int_equal(buf.rows[i].doc_id, doc_id);
        assert_int_equal(buf.rows[i].ordinal, i);
        assert_int_equal(buf.rows[i].byte_begin, rows[i].byte_begin);
        assert_int_equal(buf.rows[i].byte_end, rows[i].byte_end);
        assert_int_equal(buf.rows[i].text_len, rows[i].text_len);
        if (rows[i].text_len)
            assert_memory_equal(buf.rows[i].text, rows[i].text, rows[i].text_len);
        assert_int_equal(buf.rows[i].text[rows[i].text_len], '\0');
        assert_string_equal(buf.rows[i].path, doc.path);
    }
    int64_t n;
    int dim;
    assert_int_equal(lore_store_count_embeddings(st, "tier-a", &n, &dim), LORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 3);
    assert_int_equal(lore_store_count_embeddings(st, "tier-b", &n, &dim), LORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dim, 0);
    int64_t got_ids[4];
    float got[4 * 3];
    size_t got_n = 0;
    assert_int_equal(lore_store_get_embeddings(st, "tier-a", 3, 0, 4, got_ids, got, &got_n),
                     LORE_OK);
    assert_int_equal(got_n, 3);
    assert_memory_equal(got_ids, ids, sizeof ids);
    assert_memory_equal(got, vec, sizeof vec); /* bit-exact, -0.0 and the denormal included */

    int64_t found_id;
    uint8_t hash[16];
    assert_int_equal(lore_store_find_document(st, doc.path, &found_id, hash), LORE_OK);
    assert_int_equal(found_id, doc_id);
    assert_memory_equal(hash, doc.hash, 16);
    assert_int_equal(lore_store_find_document(st, "missing", &found_id, NULL), LORE_OK);
    assert_int_equal(found_id, 0);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_chunk_buf_free(&buf);
    lore_store_close(st);
}

static void test_replace_and_delete(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    test_doc a1, a2, b;
    doc_make(&a1, "a.txt", 3, 4, 20, 1);
    doc_make(&a2, "a.txt", 2, 4, 25, 2);
    doc_make(&b, "b.txt", 4, 4, 10, 3);
    doc_put(st, &a1, "t");
    doc_put(st, &b, "t");
    int64_t a_id, g1, g2, g3;
    assert_int_equal(lore_store_find_document(st, "a.txt", &a_id, NULL), LORE_OK);
    assert_int_equal(lore_store_generation(st, &g1), LORE_OK);

    int64_t doc_id, replaced;
    assert_int_equal(lore_store_put_document(st, &a2.info, a2.rows, a2.n, "t", 4, a2.vec, &doc_id,
                                             a2.ids, &replaced),
                     LORE_OK);
    assert_int_equal(replaced, 3);
    assert_int_equal(doc_id, a_id); /* a replaced document keeps its id */
    assert_int_equal(lore_store_generation(st, &g2), LORE_OK);
    assert_true(g2 != g1);
    for (size_t i = 0; i < a2.n; i++)
        for (size_t j = 0; j < a1.n; j++)
            assert_true(a2.ids[i] != a1.ids[j]); /* chunk ids are never reused */

    /* Old chunks are gone, the new ones and b's are there. */
    int64_t ask[9];
    memcpy(ask, a1.ids, 3 * sizeof *ask);
    memcpy(ask + 3, a2.ids, 2 * sizeof *ask);
    memcpy(ask + 5, b.ids, 4 * sizeof *ask);
    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, ask, 9, &buf), LORE_OK);
    for (int i = 0; i < 3; i++) {
        assert_false(buf.rows[i].found);
        assert_int_equal(buf.rows[i].id, a1.ids[i]);
        assert_null(buf.rows[i].text);
    }
    for (size_t i = 0; i < 2; i++)
        assert_rec_is(&buf.rows[3 + i], &a2, i);
    for (size_t i = 0; i < 4; i++)
        assert_rec_is(&buf.rows[5 + i], &b, i);
    int64_t n;
    int dim;
    assert_int_equal(lore_store_count_embeddings(st, "t", &n, &dim), LORE_OK);
    assert_int_equal(n, 6);
    uint8_t hash[16];
    assert_int_equal(lore_store_find_document(st, "a.txt", &doc_id, hash), LORE_OK);
    assert_memory_equal(hash, a2.info.hash, 16);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);

    /* Delete: a's rows go, b stays; a second delete finds nothing and changes nothing. */
    bool found = false;
    assert_int_equal(lore_store_delete_document(st, "a.txt", &found), LORE_OK);
    assert_true(found);
    assert_int_equal(lore_store_generation(st, &g3), LORE_OK);
    assert_true(g3 != g2);
    assert_int_equal(lore_store_find_document(st, "a.txt", &doc_id, NULL), LORE_OK);
    assert_int_equal(doc_id, 0);
    assert_int_equal(n_rows(st), 4);
    assert_int_equal(lore_store_count_embeddings(st, "t", &n, &dim), LORE_OK);
    assert_int_equal(n, 4);
    assert_int_equal(lore_store_delete_document(st, "a.txt", &found), LORE_OK);
    assert_false(found);
    int64_t g4;
    assert_int_equal(lore_store_generation(st, &g4), LORE_OK);
    assert_int_equal(g4, g3);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);

    lore_chunk_buf_free(&buf);
    doc_free(&a1);
    doc_free(&a2);
    doc_free(&b);
    lore_store_close(st);
}

static void test_put_chunks_maps_returning_ids(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    lore_doc_info info = {.path = "raw"};
    int64_t doc_id;
    assert_int_equal(
        lore_store_put_document(st, &info, NULL, 0, NULL, 0, NULL, &doc_id, NULL, NULL), LORE_OK);
    /* 203 rows (statements of 64, 64, 64, 8, 2 and 1 rows) with shuffled ordinals. */
    enum { N = 203, DIM = 5 };
    lore_chunk_row rows[N];
    char text[N][16];
    float vec[N * DIM];
    int64_t ids[N];
    int32_t ord[N];
    for (int i = 0; i < N; i++)
        ord[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(rng() % (uint32_t)(i + 1));
        int32_t t = ord[i];
        ord[i] = ord[j];
        ord[j] = t;
    }
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "row %d", ord[i]);
        rows[i] = (lore_chunk_row){.ordinal = ord[i],
                                   .byte_begin = i,
                                   .byte_end = i + 1,
                                   .text = text[i],
                                   .text_len = strlen(text[i])};
        for (int k = 0; k < DIM; k++)
            vec[i * DIM + k] = (float)(ord[i] * 10 + k);
    }
    assert_int_equal(lore_store_put_chunks(st, doc_id, rows, N, "t", DIM, vec, ids), LORE_OK);
    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, ids, N, &buf), LORE_OK);
    for (int i = 0; i < N; i++) {
        assert_true(buf.rows[i].found);
        assert_int_equal(buf.rows[i].ordinal, ord[i]);
        assert_int_equal(buf.rows[i].byte_begin, i);
        assert_string_equal(buf.rows[i].text, text[i]);
    }
    /* Each embedding belongs to the chunk of its row. */
    int64_t eids[N];
    float evec[N * DIM];
    size_t n_out;
    assert_int_equal(lore_store_get_embeddings(st, "t", DIM, 0, N, eids, evec, &n_out), LORE_OK);
    assert_int_equal(n_out, N);
    for (size_t e = 0; e < n_out; e++) {
        int i = -1;
        for (int r = 0; r < N; r++)
            if (ids[r] == eids[e])
                i = r;
        assert_true(i >= 0);
        assert_memory_equal(&evec[e * DIM], &vec[i * DIM], DIM * sizeof(float));
    }
    /* A duplicated ordinal fails in SQLite and writes nothing. */
    int64_t before = n_rows(st);
    rows[1].ordinal = rows[0].ordinal;
    assert_int_equal(lore_store_put_chunks(st, doc_id, rows, 2, NULL, 0, NULL, NULL), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "UNIQUE"));
    assert_int_equal(n_rows(st), before);
    /* A document that does not exist. */
    rows[1].ordinal = 100000;
    rows[0].ordinal = 100001;
    assert_int_equal(lore_store_put_chunks(st, 999, rows, 2, NULL, 0, NULL, NULL), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "FOREIGN KEY"));
    assert_non_null(strstr(lore_last_error(), "999"));
    assert_int_equal(n_rows(st), before);
    lore_chunk_buf_free(&buf);
    lore_store_close(st);
}

/* ---- reads by id lists ---------------------------------------------------------------- */

static void test_get_chunks_every_bucket(void **state)
{
    (void)state;
    const char *path = tmp_path("buckets.db");
    rm_db(path);
    test_doc d[3];
    lore_store *st = open_ok(path, NULL);
    doc_make(&d[0], "one", 60, 0, 300, 11);
    doc_make(&d[1], "two", 50, 0, 1, 12);
    doc_make(&d[2], "three", 40, 0, 700, 13);
    for (int i = 0; i < 3; i++)
        doc_put(st, &d[i], NULL);
    lore_store_close(st);

    static const int binds[] = {1, 2, 3, 7, 8, 64, 256, 32766};
    static const size_t lens[] = {0, 1, 2, 3, 5, 8, 9, 17, 64, 100, 300};
    enum { MAXN = 300 };
    int64_t ask[MAXN];
    int want_doc[MAXN], want_row[MAXN];
    for (size_t bi = 0; bi < sizeof binds / sizeof binds[0]; bi++) {
        lore_store_params p = lore_store_default_params();
        p.max_bind_params = binds[bi];
        st = open_ok(path, &p);
        lore_chunk_buf buf = {0}; /* fresh buffer: the arena grows within one call */
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < n; i++) {
                uint32_t r = rng() % 10;
                if (r == 0) {
                    ask[i] = 1000000 + (int64_t)(rng() % 5); /* missing */
                    want_doc[i] = -1;
                } else if (r == 1 && i > 0) {
                    ask[i] = ask[i - 1]; /* duplicate */
                    want_doc[i] = want_doc[i - 1];
                    want_row[i] = want_row[i - 1];
                } else {
                    int k = (int)(rng() % 3);
                    int row = (int)(rng() % d[k].n);
                    ask[i] = d[k].ids[row];
                    want_doc[i] = k;
                    want_row[i] = row;
                }
            }
            if (n > 4) /* an id asked far apart, and a non-positive one */
                ask[n - 1] = ask[0], want_doc[n - 1] = want_doc[0], want_row[n - 1] = want_row[0];
            if (n > 5)
                ask[2] = -3, want_doc[2] = -1;
            lore_status s = lore_store_get_chunks(st, ask, n, &buf);
            if (s != LORE_OK)
                fail_msg("bind %d n %zu: %s", binds[bi], n, lore_last_error());
            assert_int_equal(buf.n, n);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(buf.rows[i].id, ask[i]);
                if (want_doc[i] < 0) {
                    assert_false(buf.rows[i].found);
                    assert_null(buf.rows[i].text);
                    assert_null(buf.rows[i].path);
                    assert_int_equal(buf.rows[i].doc_id, 0);
                } else {
                    assert_rec_is(&buf.rows[i], &d[want_doc[i]], (size_t)want_row[i]);
                }
            }
        }
        lore_chunk_buf_free(&buf);
        lore_store_close(st);
    }
    for (int i = 0; i < 3; i++)
        doc_free(&d[i]);
    rm_db(path);
}

static void test_get_embeddings_paging(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    test_doc a, b;
    doc_make(&a, "a", 23, 6, 5, 1);
    doc_make(&b, "b", 17, 6, 5, 2);
    doc_put(st, &a, "t6");
    doc_put(st, &b, "t6");
    /* Another tier with its own dimension, on a's chunks. */
    test_doc c;
    doc_make(&c, "c", 4, 3, 5, 3);
    doc_put(st, &c, "t3");

    int64_t all_ids[40];
    float all_vec[40 * 6];
    memcpy(all_ids, a.ids, 23 * sizeof *all_ids);
    memcpy(all_ids + 23, b.ids, 17 * sizeof *all_ids);
    memcpy(all_vec, a.vec, 23 * 6 * sizeof(float));
    memcpy(all_vec + 23 * 6, b.vec, 17 * 6 * sizeof(float));

    int64_t ids[7];
    float vec[7 * 6];
    size_t got = 0, total = 0;
    int64_t after = 0;
    int pages = 0;
    do {
        assert_int_equal(lore_store_get_embeddings(st, "t6", 6, after, 7, ids, vec, &got), LORE_OK);
        for (size_t i = 0; i < got; i++) {
            assert_int_equal(ids[i], all_ids[total + i]);
            assert_memory_equal(&vec[i * 6], &all_vec[(total + i) * 6], 6 * sizeof(float));
        }
        total += got;
        if (got)
            after = ids[got - 1];
        pages++;
    } while (got > 0);
    assert_int_equal(total, 40);
    assert_int_equal(pages, 7); /* 6 pages of data (7 * 5 + 5) and the empty one */

    int64_t n;
    int dim;
    assert_int_equal(lore_store_count_embeddings(st, "t3", &n, &dim), LORE_OK);
    assert_int_equal(n, 4);
    assert_int_equal(dim, 3);
    /* A tier keeps its dimension. */
    test_doc e;
    doc_make(&e, "e", 2, 4, 5, 4);
    assert_int_equal(
        lore_store_put_document(st, &e.info, e.rows, e.n, "t3", 4, e.vec, NULL, NULL, NULL),
        LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "t3"));
    /* Reading with the wrong dim is a size mismatch. */
    assert_int_equal(lore_store_get_embeddings(st, "t6", 5, 0, 7, ids, vec, &got), LORE_ECORRUPT);
    assert_int_equal(got, 0);
    assert_int_equal(lore_store_get_embeddings(st, "t6", 6, 0, 0, NULL, NULL, &got), LORE_OK);
    assert_int_equal(got, 0);
    doc_free(&a);
    doc_free(&b);
    doc_free(&c);
    doc_free(&e);
    lore_store_close(st);
}

/* ---- snapshots ---------------------------------------------------------------------- */

typedef struct snap_ctx {
    size_t size; /* bytes produce writes */
    unsigned char seed;
    lore_status fail; /* returned by produce after its writes */
    /* consume */
    size_t got_size;
    int64_t got_gen;
    bool ok;
    int calls;
    size_t read_extra; /* consume tries to read this many bytes past the end */
} snap_ctx;

static unsigned char snap_byte(unsigned char seed, size_t i)
{
    return (unsigned char)(seed + i * 131 + (i >> 9));
}

static lore_status produce(void *ctx, const lore_writer *w)
{
    snap_ctx *c = ctx;
    unsigned char buf[1000];
    size_t off = 0, step = 1;
    while (off < c->size) {
        size_t k = c->size - off < step ? c->size - off : step;
        for (size_t i = 0; i < k; i++)
            buf[i] = snap_byte(c->seed, off + i);
        lore_status s = w->write(w->ctx, buf, k);
        if (s != LORE_OK)
            return s;
        off += k;
        step = step * 3 % 997 + 1; /* irregular pieces */
    }
    return c->fail;
}

static lore_status consume(void *ctx, const lore_reader *r, size_t size, int64_t gen)
{
    snap_ctx *c = ctx;
    c->calls++;
    c->got_size = size;
    c->got_gen = gen;
    unsigned char buf[777];
    size_t off = 0;
    c->ok = true;
    while (off < size) {
        size_t k = size - off < sizeof buf ? size - off : sizeof buf;
        lore_status s = r->read(r->ctx, buf, k);
        if (s != LORE_OK)
            return s;
        for (size_t i = 0; i < k; i++)
            if (buf[i] != snap_byte(c->seed, off + i))
                c->ok = false;
        off += k;
    }
    if (c->read_extra)
        return r->read(r->ctx, buf, c->read_extra);
    return LORE_OK;
}

static void test_snapshots(void **state)
{
    (void)state;
    const char *path = tmp_path("snap.db");
    rm_db(path);
    lore_store *st = open_ok(path, NULL);
    snap_ctx c = {.size = 100003, .seed = 7};
    assert_int_equal(lore_store_put_snapshot(st, "t/flat", 42, c.size, produce, &c), LORE_OK);
    lore_store_close(st);

    st = open_ok(path, NULL);
    snap_ctx r = {.seed = 7};
    bool found = false;
    assert_int_equal(lore_store_get_snapshot(st, "t/flat", consume, &r, &found), LORE_OK);
    assert_true(found);
    assert_int_equal(r.calls, 1);
    assert_true(r.ok);
    assert_int_equal(r.got_size, 100003);
    assert_int_equal(r.got_gen, 42);
    assert_int_equal(sql_int(path, "SELECT length(data) FROM snapshots WHERE name = 't/flat'"),
                     100003);

    snap_ctx none = {0};
    assert_int_equal(lore_store_get_snapshot(st, "t/hnsw", consume, &none, &found), LORE_OK);
    assert_false(found);
    assert_int_equal(none.calls, 0);

    /* Fewer bytes, more bytes, or a failing producer: rolled back, the old snapshot intact. */
    snap_ctx fewer = {.size = 500, .seed = 9};
    assert_int_equal(lore_store_put_snapshot(st, "t/flat", 43, 501, produce, &fewer), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "500 of the 501"));
    snap_ctx more = {.size = 502, .seed = 9};
    assert_int_equal(lore_store_put_snapshot(st, "t/flat", 43, 501, produce, &more), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "past the 501"));
    snap_ctx failing = {.size = 501, .seed = 9, .fail = LORE_EIO};
    assert_int_equal(lore_store_put_snapshot(st, "t/flat", 43, 501, produce, &failing), LORE_EIO);
    assert_false(lore_store_in_transaction(st));
    r = (snap_ctx){.seed = 7};
    assert_int_equal(lore_store_get_snapshot(st, "t/flat", consume, &r, &found), LORE_OK);
    assert_true(r.ok);
    assert_int_equal(r.got_size, 100003);
    assert_int_equal(r.got_gen, 42);

    /* Replacing works, an empty snapshot too, and reading past the end is corrupt data. */
    snap_ctx small = {.size = 10, .seed = 3};
    assert_int_equal(lore_store_put_snapshot(st, "t/flat", 44, 10, produce, &small), LORE_OK);
    snap_ctx empty = {.size = 0};
    assert_int_equal(lore_store_put_snapshot(st, "empty", 1, 0, produce, &empty), LORE_OK);
    r = (snap_ctx){.seed = 3, .read_extra = 1};
    assert_int_equal(lore_store_get_snapshot(st, "t/flat", consume, &r, &found), LORE_ECORRUPT);
    assert_true(r.ok);
    assert_int_equal(r.got_size, 10);
    assert_int_equal(r.got_gen, 44);
    r = (snap_ctx){0};
    assert_int_equal(lore_store_get_snapshot(st, "empty", consume, &r, &found), LORE_OK);
    assert_true(found);
    assert_int_equal(r.got_size, 0);
    lore_store_info info;
    assert_int_equal(lore_store_get_info(st, &info), LORE_OK);
    assert_int_equal(info.n_snapshots, 2);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);
    rm_db(path);
}

/* ---- transactions ---------------------------------------------------------------------- */

static void test_explicit_transactions(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    test_doc a, b, c;
    doc_make(&a, "a", 3, 2, 10, 1);
    doc_make(&b, "b", 3, 2, 10, 2);
    doc_make(&c, "c", 3, 2, 10, 3);
    int64_t g0, g, id;
    assert_int_equal(lore_store_generation(st, &g0), LORE_OK);

    assert_false(lore_store_in_transaction(st));
    assert_int_equal(lore_store_commit(st), LORE_ESTATE);
    assert_int_equal(lore_store_rollback(st), LORE_OK);
    assert_int_equal(lore_store_begin(st), LORE_OK);
    assert_true(lore_store_in_transaction(st));
    assert_int_equal(lore_store_begin(st), LORE_ESTATE);
    assert_true(lore_store_in_transaction(st));
    doc_put(st, &a, "t");
    doc_put(st, &b, "t");
    assert_int_equal(lore_store_rollback(st), LORE_OK);
    assert_false(lore_store_in_transaction(st));
    assert_int_equal(n_rows(st), 0);
    assert_int_equal(lore_store_generation(st, &g), LORE_OK);
    assert_int_equal(g, g0);

    lore_store_stats s0, s1;
    lore_store_get_stats(st, &s0);
    assert_int_equal(lore_store_begin(st), LORE_OK);
    doc_put(st, &a, "t");
    doc_put(st, &b, "t");
    assert_int_equal(lore_store_commit(st), LORE_OK);
    lore_store_get_stats(st, &s1);
    assert_int_equal(s1.n_transactions - s0.n_transactions, 1); /* one commit for both */
    assert_int_equal(n_rows(st), 6);

    /* A failure inside an explicit transaction rolls all of it back. */
    assert_int_equal(lore_store_begin(st), LORE_OK);
    doc_put(st, &c, "t");
    assert_int_equal(lore_store_delete_document(st, "a", NULL), LORE_OK);
    assert_int_equal(n_rows(st), 6);
    c.rows[1].ordinal = 0; /* duplicated: SQLite's UNIQUE fails */
    lore_doc_info d2 = c.info;
    d2.path = "c2";
    assert_int_equal(lore_store_put_document(st, &d2, c.rows, c.n, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_false(lore_store_in_transaction(st));
    assert_int_equal(lore_store_commit(st), LORE_ESTATE);
    assert_int_equal(lore_store_find_document(st, "c", &id, NULL), LORE_OK);
    assert_int_equal(id, 0);
    assert_int_equal(lore_store_find_document(st, "a", &id, NULL), LORE_OK);
    assert_true(id > 0);
    assert_int_equal(n_rows(st), 6);
    lore_store_get_stats(st, &s0);
    assert_int_equal(s0.n_rollbacks - s1.n_rollbacks, 1);

    /* A bad argument inside one counts as a failure too. */
    assert_int_equal(lore_store_begin(st), LORE_OK);
    assert_int_equal(lore_store_delete_document(st, "b", NULL), LORE_OK);
    c.rows[1].ordinal = 7; /* outside 0..n-1 */
    assert_int_equal(
        lore_store_put_document(st, &c.info, c.rows, c.n, NULL, 0, NULL, NULL, NULL, NULL),
        LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "ordinal 7"));
    assert_false(lore_store_in_transaction(st));
    assert_int_equal(lore_store_find_document(st, "b", &id, NULL), LORE_OK);
    assert_true(id > 0);

    /* Writes work again afterwards, in their own transactions. */
    c.rows[1].ordinal = 1;
    doc_put(st, &c, "t");
    assert_int_equal(n_rows(st), 9);
    assert_int_equal(lore_store_verify(st, false), LORE_OK);
    doc_free(&a);
    doc_free(&b);
    doc_free(&c);
    lore_store_close(st);
}

static void test_locked_database(void **state)
{
    (void)state;
    const char *path = tmp_path("locked.db");
    rm_db(path);
    lore_store *a = open_ok(path, NULL);
    lore_store_params p = lore_store_default_params();
    p.busy_timeout_ms = 0;
    lore_store *b = open_ok(path, &p);
    test_doc d;
    doc_make(&d, "x", 2, 0, 10, 1);
    assert_int_equal(lore_store_begin(a), LORE_OK);
    assert_int_equal(
        lore_store_put_document(b, &d.info, d.rows, d.n, NULL, 0, NULL, NULL, NULL, NULL),
        LORE_EIO);
    assert_non_null(strstr(lore_last_error(), "database is locked"));
    assert_non_null(strstr(lore_last_error(), "'x'"));
    assert_false(lore_store_in_transaction(b));
    /* Readers are not blocked by the writer (WAL). */
    int64_t id;
    assert_int_equal(lore_store_find_document(b, "x", &id, NULL), LORE_OK);
    assert_int_equal(lore_store_commit(a), LORE_OK);
    doc_put(b, &d, NULL);
    assert_int_equal(lore_store_find_document(a, "x", &id, NULL), LORE_OK);
    assert_true(id > 0);
    doc_free(&d);
    lore_store_close(a);
    lore_store_close(b);
    rm_db(path);
}

/* ---- full disk and read-only ---------------------------------------------------------------- */

static void test_full_disk(void **state)
{
    (void)state;
    const char *path = tmp_path("full.db");
    rm_db(path);
    lore_store_params p = lore_store_default_params();
    p.max_db_bytes = 160 * 1024;
    lore_store *st = open_ok(path, &p);
    char name[32];
    int ok = 0;
    lore_status s = LORE_OK;
    for (int i = 0; i < 200 && s == LORE_OK; i++) {
        test_doc d;
        snprintf(name, sizeof name, "doc-%d", i);
        doc_make(&d, name, 4, 64, 900, (uint32_t)i);
        s = lore_store_put_document(st, &d.info, d.rows, d.n, "t", d.dim, d.vec, NULL, NULL, NULL);
        if (s == LORE_OK)
            ok++;
        doc_free(&d);
    }
    assert_int_equal(s, LORE_EIO);
    assert_non_null(strstr(lore_last_error(), "full"));
    assert_non_null(strstr(lore_last_error(), name));
    assert_true(ok > 3);
    assert_false(lore_store_in_transaction(st));
    lore_store_stats stats;
    lore_store_get_stats(st, &stats);
    assert_int_equal(stats.n_rollbacks, 1);
    assert_int_equal(stats.n_transactions, ok); /* creating the schema is not counted */

    /* The same inside an explicit transaction: everything in it goes, the rest stays. */
    assert_int_equal(lore_store_begin(st), LORE_OK);
    s = LORE_OK;
    for (int i = 1000; i < 1200 && s == LORE_OK; i++) {
        test_doc d;
        snprintf(name, sizeof name, "txn-%d", i);
        doc_make(&d, name, 1, 64, 300, (uint32_t)i);
        s = lore_store_put_document(st, &d.info, d.rows, d.n, "t", d.dim, d.vec, NULL, NULL, NULL);
        doc_free(&d);
    }
    assert_int_equal(s, LORE_EIO);
    assert_false(lore_store_in_transaction(st));
    lore_store_get_stats(st, &stats);
    assert_int_equal(stats.n_rollbacks, 2);
    int64_t id;
    assert_int_equal(lore_store_find_document(st, "txn-1000", &id, NULL), LORE_OK);
    assert_int_equal(id, 0);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);

    /* Everything committed before is there, checked by SQLite alone. */
    assert_int_equal(sql_int(path, "SELECT count(*) FROM documents"), ok);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM chunks"), 4 * ok);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM embeddings"), 4 * ok);
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);
    rm_db(path);
}

static void test_read_only(void **state)
{
    (void)state;
    const char *path = tmp_path("ro.db");
    rm_db(path);
    lore_store *st = open_ok(path, NULL);
    test_doc d;
    doc_make(&d, "a", 2, 3, 10, 1);
    doc_put(st, &d, "t");
    lore_store_close(st);
    size_t len0, len1;
    unsigned char *before = read_file(path, &len0);

    lore_store_params p = lore_store_default_params();
    p.read_only = true;
    st = open_ok(path, &p);
    int64_t id;
    assert_int_equal(lore_store_find_document(st, "a", &id, NULL), LORE_OK);
    assert_true(id > 0);
    assert_int_equal(
        lore_store_put_document(st, &d.info, d.rows, d.n, NULL, 0, NULL, NULL, NULL, NULL),
        LORE_ESTATE);
    assert_non_null(strstr(lore_last_error(), "read-only"));
    assert_int_equal(lore_store_put_chunks(st, id, d.rows, 1, NULL, 0, NULL, NULL), LORE_ESTATE);
    assert_int_equal(lore_store_delete_document(st, "a", NULL), LORE_ESTATE);
    assert_int_equal(lore_store_begin(st), LORE_ESTATE);
    snap_ctx c = {.size = 4};
    assert_int_equal(lore_store_put_snapshot(st, "s", 1, 4, produce, &c), LORE_ESTATE);
    assert_int_equal(lore_store_bare_insert(st, id, d.rows, 1, NULL, 0, NULL, 0), LORE_ESTATE);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);
    unsigned char *after = read_file(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(after);

    /* A read-only open of a missing file fails naming it. */
    const char *missing = tmp_path("missing.db");
    rm_db(missing);
    st = (lore_store *)1;
    assert_int_equal(lore_store_open(missing, &p, &st), LORE_EIO);
    assert_null(st);
    assert_non_null(strstr(lore_last_error(), missing));
    p = lore_store_default_params();
    p.create = false;
    assert_int_equal(lore_store_open(missing, &p, &st), LORE_EIO);
    assert_false(file_exists(missing));

    /* Write-protected file or folder: root ignores permissions, so only checked for others. */
    if (geteuid() != 0) {
        chmod(path, 0444);
        assert_int_equal(lore_store_open(path, NULL, &st), LORE_EIO);
        assert_non_null(strstr(lore_last_error(), path));
        chmod(path, 0644);
        const char *sub = tmp_path("rodir");
        mkdir(sub, 0755);
        char sub_db[300];
        snprintf(sub_db, sizeof sub_db, "%s/x.db", sub);
        st = open_ok(sub_db, NULL);
        lore_store_close(st);
        chmod(sub, 0555);
        lore_status s = lore_store_open(sub_db, NULL, &st);
        if (s == LORE_OK) {
            /* Opened (the WAL files survived); a write must then fail cleanly. */
            lore_status w =
                lore_store_put_document(st, &d.info, d.rows, d.n, NULL, 0, NULL, NULL, NULL, NULL);
            assert_true(w == LORE_OK || w == LORE_EIO);
            lore_store_close(st);
        } else {
            assert_int_equal(s, LORE_EIO);
            assert_non_null(strstr(lore_last_error(), sub_db));
        }
        chmod(sub, 0755);
        rm_db(sub_db);
        rmdir(sub);
    }
    free(before);
    doc_free(&d);
    rm_db(path);
}

/* ---- files the store refuses ------------------------------------------------------------- */

/* Opening path must fail with LORE_ECORRUPT naming it, and leave the file as it was. */
static void assert_refused_unchanged(const char *path, const char *why)
{
    size_t len0, len1;
    unsigned char *before = read_file(path, &len0);
    lore_store *st = (lore_store *)1;
    assert_int_equal(lore_store_open(path, NULL, &st), LORE_ECORRUPT);
    assert_null(st);
    assert_non_null(strstr(lore_last_error(), path));
    if (why && !strstr(lore_last_error(), why))
        fail_msg("message '%s' lacks '%s'", lore_last_error(), why);
    lore_store_params p = lore_store_default_params();
    p.read_only = true;
    assert_int_equal(lore_store_open(path, &p, &st), LORE_ECORRUPT);
    unsigned char *after = read_file(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    /* Nothing switched the file to WAL; a store already in WAL may leave an empty -wal. */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    bool was_wal = len0 > 18 && memcmp(before, "SQLite format 3", 16) == 0 && before[18] == 2;
    struct stat sb;
    if (!was_wal)
        assert_false(file_exists(wal));
    else if (stat(wal, &sb) == 0)
        assert_int_equal(sb.st_size, 0);
    free(before);
    free(after);
}

static void test_refuses_non_sqlite_files(void **state)
{
    (void)state;
    const char *path = tmp_path("random.bin");
    unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rng();
    write_file(path, junk, sizeof junk);
    assert_refused_unchanged(path, "not a SQLite database");
    unlink(path);

    path = tmp_path("notes.txt");
    char text[4000] = "";
    for (int i = 0; i < 60; i++)
        strcat(text, "This is a plain text file, not a database.\n");
    write_file(path, text, strlen(text));
    assert_refused_unchanged(path, "not a SQLite database");
    unlink(path);
}

static void test_refuses_foreign_and_newer(void **state)
{
    (void)state;
    const char *path = tmp_path("foreign.db");
    rm_db(path);
    sql_exec(path, "CREATE TABLE people(name TEXT); INSERT INTO people VALUES ('ada');");
    assert_refused_unchanged(path, "not a lore store");
    rm_db(path);
    /* Another application's id on an otherwise empty database. */
    sql_exec(path, "PRAGMA application_id = 1234;");
    assert_refused_unchanged(path, "not a lore store");
    rm_db(path);

    /* A store from a newer build. */
    lore_store *st = open_ok(path, NULL);
    lore_store_close(st);
    sql_exec(path, "PRAGMA user_version = 2;");
    assert_refused_unchanged(path, "newer");
    rm_db(path);

    /* Our id with no schema yet (user_version 0) is migrated on open. */
    sql_exec(path, "PRAGMA application_id = 1280266821; CREATE TABLE t(x); DROP TABLE t;");
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 0);
    lore_store_params p = lore_store_default_params();
    p.read_only = true;
    assert_int_equal(lore_store_open(path, &p, &st), LORE_ESTATE); /* cannot migrate read-only */
    st = open_ok(path, NULL);
    lore_store_close(st);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), LORE_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM meta WHERE key = 'generation'"), 1);
    rm_db(path);

    /* A lore store missing a table is damaged. */
    st = open_ok(path, NULL);
    lore_store_close(st);
    sql_exec(path, "DROP TABLE snapshots;");
    assert_int_equal(lore_store_open(path, NULL, &st), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "snapshots"));
    rm_db(path);
}

/* Makes a small store of 20 documents, closed (so the WAL is folded into the file). */
static void make_small_store(const char *path, test_doc *d, size_t nd)
{
    rm_db(path);
    lore_store *st = open_ok(path, NULL);
    for (size_t i = 0; i < nd; i++) {
        char name[32];
        snprintf(name, sizeof name, "doc-%zu", i);
        doc_make(&d[i], name, 3, 16, 200, (uint32_t)i);
        doc_put(st, &d[i], "t");
    }
    lore_store_close(st);
}

/* Opens, verifies and reads a damaged store; returns the first non-OK status (never crashes). */
static lore_status poke_damaged(const char *path, test_doc *d, size_t nd)
{
    lore_store *st = NULL;
    lore_status s = lore_store_open(path, NULL, &st);
    if (s != LORE_OK)
        return s;
    lore_status first = lore_store_verify(st, true);
    lore_chunk_buf buf = {0};
    for (size_t i = 0; i < nd; i++) {
        lore_status r = lore_store_get_chunks(st, d[i].ids, d[i].n, &buf);
        if (first == LORE_OK)
            first = r;
    }
    int64_t ids[64];
    float vec[64 * 16];
    size_t got;
    lore_status r = lore_store_get_embeddings(st, "t", 16, 0, 64, ids, vec, &got);
    if (first == LORE_OK)
        first = r;
    lore_chunk_buf_free(&buf);
    lore_store_close(st);
    return first;
}

static void test_corrupt_store(void **state)
{
    (void)state;
    enum { ND = 20 };
    const char *path = tmp_path("corrupt.db");
    test_doc d[ND];
    make_small_store(path, d, ND);
    size_t len;
    unsigned char *orig = read_file(path, &len);
    size_t page = (size_t)orig[16] << 8 | orig[17], n_pages = len / page; /* header: page size */
    assert_true(n_pages > 10);

    /* The root page of chunks with an invalid page type: open may pass, verify must not. */
    int64_t root = sql_int(path, "SELECT rootpage FROM sqlite_schema WHERE name = 'chunks'");
    unsigned char *bad = malloc(len);
    memcpy(bad, orig, len);
    bad[(size_t)(root - 1) * page] = 0x77;
    write_file(path, bad, len);
    lore_store *st = NULL;
    lore_status s = lore_store_open(path, NULL, &st);
    if (s == LORE_OK) {
        assert_int_equal(lore_store_verify(st, false), LORE_ECORRUPT);
        assert_non_null(strstr(lore_last_error(), path));
        lore_chunk_buf buf = {0};
        assert_int_equal(lore_store_get_chunks(st, d[0].ids, d[0].n, &buf), LORE_ECORRUPT);
        lore_chunk_buf_free(&buf);
        lore_store_close(st);
    } else {
        assert_int_equal(s, LORE_ECORRUPT);
    }

    /* The header's magic damaged: not a database. */
    memcpy(bad, orig, len);
    bad[3] ^= 0x20;
    write_file(path, bad, len);
    assert_int_equal(poke_damaged(path, d, ND), LORE_ECORRUPT);

    /* Truncated to half. */
    write_file(path, orig, len / 2);
    assert_int_equal(poke_damaged(path, d, ND), LORE_ECORRUPT);

    /* Bytes flipped in every page in turn: a clean result or LORE_ECORRUPT, never a crash. */
    int n_corrupt = 0;
    for (size_t pg = 1; pg < n_pages; pg++) {
        memcpy(bad, orig, len);
        for (size_t i = 0; i < 24; i++)
            bad[pg * page + 8 + i * 97] ^= 0x5a;
        rm_db(path);
        write_file(path, bad, len);
        s = poke_damaged(path, d, ND);
        if (s != LORE_OK && s != LORE_ECORRUPT)
            fail_msg("page %zu: status %d: %s", pg, (int)s, lore_last_error());
        n_corrupt += s == LORE_ECORRUPT;
    }
    assert_true(n_corrupt > 0);
    free(bad);
    free(orig);
    for (int i = 0; i < ND; i++)
        doc_free(&d[i]);
    rm_db(path);
}

static void test_verify_finds_damage(void **state)
{
    (void)state;
    const char *path = tmp_path("verify.db");
    rm_db(path);
    lore_store *st = open_ok(path, NULL);
    test_doc a, b;
    doc_make(&a, "a.md", 3, 0, 10, 1);
    doc_make(&b, "b.md", 2, 4, 10, 2);
    doc_put(st, &a, NULL);
    doc_put(st, &b, "t");
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);

    /* A document missing a chunk (deleted behind the store's back). */
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM chunks WHERE id = %lld;", (long long)a.ids[1]);
    sql_exec(path, sql);
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, false), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "a.md"));
    assert_non_null(strstr(lore_last_error(), "n_chunks 3"));
    lore_store_close(st);

    /* Ordinals with a gap: 0 and 2 of 2. */
    snprintf(sql, sizeof sql, "UPDATE documents SET n_chunks = 2 WHERE path = 'a.md';");
    sql_exec(path, sql);
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, false), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "0..2"));
    lore_store_close(st);
    sql_exec(path, "UPDATE chunks SET ordinal = 1 WHERE ordinal = 2 AND doc_id = "
                   "(SELECT id FROM documents WHERE path = 'a.md');");
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    lore_store_close(st);

    /* A vector of the wrong size. */
    snprintf(sql, sizeof sql, "UPDATE embeddings SET vector = zeroblob(12) WHERE chunk_id = %lld;",
             (long long)b.ids[1]);
    sql_exec(path, sql);
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, false), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "12 bytes"));
    int64_t ids[4];
    float vec[16];
    size_t got;
    assert_int_equal(lore_store_get_embeddings(st, "t", 4, 0, 4, ids, vec, &got), LORE_ECORRUPT);
    lore_store_close(st);

    /* An embedding whose chunk is gone. */
    snprintf(sql, sizeof sql,
             "UPDATE embeddings SET vector = zeroblob(16) WHERE chunk_id = %lld; "
             "DELETE FROM chunks WHERE id = %lld; UPDATE documents SET n_chunks = 1 WHERE "
             "path = 'b.md';",
             (long long)b.ids[1], (long long)b.ids[1]);
    sql_exec(path, sql);
    st = open_ok(path, NULL);
    assert_int_equal(lore_store_verify(st, false), LORE_ECORRUPT);
    assert_non_null(strstr(lore_last_error(), "embeddings"));
    lore_store_close(st);
    doc_free(&a);
    doc_free(&b);
    rm_db(path);
}

/* ---- arguments, counters, the bare loop ------------------------------------------------------ */

static void test_bad_params(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        int which;
    } cases[] = {{"busy_timeout_ms", 0}, {"max_bind_params", 1}, {"max_bind_params", 2},
                 {"synchronous", 3},     {"max_db_bytes", 4},    {"cache_kib", 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lore_store_params p = lore_store_default_params();
        switch (cases[i].which) {
        case 0:
            p.busy_timeout_ms = -1;
            break;
        case 1:
            p.max_bind_params = 0;
            break;
        case 2:
            p.max_bind_params = 32767;
            break;
        case 3:
            p.synchronous = (lore_store_sync)7;
            break;
        case 4:
            p.max_db_bytes = -1;
            break;
        default:
            p.cache_kib = 63;
            break;
        }
        lore_store *st = (lore_store *)1;
        assert_int_equal(lore_store_open(":memory:", &p, &st), LORE_EINVAL);
        assert_null(st);
        assert_non_null(strstr(lore_last_error(), cases[i].field));
    }
    lore_store *st = NULL;
    assert_int_equal(lore_store_open(NULL, NULL, &st), LORE_EINVAL);
    assert_int_equal(lore_store_open("", NULL, &st), LORE_EINVAL);
    assert_int_equal(lore_store_open(":memory:", NULL, NULL), LORE_EINVAL);

    st = open_ok(":memory:", NULL);
    lore_chunk_row row = {
        .ordinal = 0, .byte_begin = 0, .byte_end = 3, .text = "abc", .text_len = 3};
    lore_doc_info doc = {.path = "p"};
    float v[2] = {1, 2};
    assert_int_equal(lore_store_put_document(st, NULL, &row, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    lore_doc_info empty = {.path = ""};
    assert_int_equal(lore_store_put_document(st, &empty, &row, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_store_put_document(st, &doc, NULL, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_int_equal(lore_store_put_document(st, &doc, &row, 1, NULL, 2, v, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "tier"));
    assert_int_equal(lore_store_put_document(st, &doc, &row, 1, "t", 0, v, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "dim"));
    row.ordinal = 1;
    assert_int_equal(lore_store_put_document(st, &doc, &row, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "ordinal"));
    row.ordinal = 0;
    row.text = NULL;
    assert_int_equal(lore_store_put_document(st, &doc, &row, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "text"));
    row.text = "abc";
    row.byte_end = -1;
    assert_int_equal(lore_store_put_document(st, &doc, &row, 1, NULL, 0, NULL, NULL, NULL, NULL),
                     LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "byte range"));
    assert_int_equal(lore_store_put_chunks(st, 0, &row, 1, NULL, 0, NULL, NULL), LORE_EINVAL);
    assert_int_equal(lore_store_get_chunks(st, NULL, 3, NULL), LORE_EINVAL);
    assert_int_equal(lore_store_get_embeddings(st, "t", 0, 0, 1, NULL, NULL, NULL), LORE_EINVAL);
    assert_int_equal(lore_store_put_snapshot(st, "", 0, 0, produce, NULL), LORE_EINVAL);
    assert_int_equal(lore_store_put_snapshot(st, "x", 0, 0, NULL, NULL), LORE_EINVAL);
    assert_int_equal(lore_store_delete_document(st, NULL, NULL), LORE_EINVAL);
    assert_int_equal(n_rows(st), 0);
    lore_store_close(st);
    lore_store_close(NULL);
}

static void test_stats_and_counters(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    lore_store_stats s;
    lore_store_reset_stats(st);
    lore_store_get_stats(st, &s);
    assert_int_equal(s.n_rows_written + s.n_statements + s.n_transactions, 0);
    int64_t c_rows = lore_counter_read(LORE_COUNTER_STORE_ROWS_WRITTEN);
    int64_t c_bytes = lore_counter_read(LORE_COUNTER_STORE_BYTES);
    int64_t c_txn = lore_counter_read(LORE_COUNTER_STORE_TRANSACTIONS);
    int64_t c_read = lore_counter_read(LORE_COUNTER_STORE_ROWS_READ);
    int64_t c_stmt = lore_counter_read(LORE_COUNTER_STORE_STATEMENTS);

    test_doc d;
    doc_make(&d, "a", 5, 3, 11, 1);
    doc_put(st, &d, "t");
    lore_store_get_stats(st, &s);
    assert_int_equal(s.n_rows_written, 1 + 5 + 5); /* document, chunks, embeddings */
    assert_int_equal(s.n_bytes_written, 5 * 11 + 5 * 3 * 4);
    assert_int_equal(s.n_transactions, 1);
    assert_true(s.n_statements >= 4);

    /* Replacing deletes 5 + 5 rows and writes 1 + 2 + 2. */
    test_doc d2;
    doc_make(&d2, "a", 2, 3, 7, 2);
    doc_put(st, &d2, "t");
    lore_store_get_stats(st, &s);
    assert_int_equal(s.n_rows_written, 11 + 10 + 5);
    assert_int_equal(s.n_bytes_written, 5 * 11 + 5 * 12 + 2 * 7 + 2 * 12);
    assert_int_equal(s.n_transactions, 2);

    int64_t ask[4] = {d2.ids[0], 999999, d2.ids[1], d2.ids[0]};
    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, ask, 4, &buf), LORE_OK);
    lore_store_get_stats(st, &s);
    assert_int_equal(s.n_rows_read, 2); /* rows SQLite returned: each distinct id once */
    assert_int_equal(s.n_rollbacks, 0);

    assert_int_equal(lore_counter_read(LORE_COUNTER_STORE_ROWS_WRITTEN) - c_rows, s.n_rows_written);
    assert_int_equal(lore_counter_read(LORE_COUNTER_STORE_BYTES) - c_bytes, s.n_bytes_written);
    assert_int_equal(lore_counter_read(LORE_COUNTER_STORE_TRANSACTIONS) - c_txn, s.n_transactions);
    assert_int_equal(lore_counter_read(LORE_COUNTER_STORE_ROWS_READ) - c_read, s.n_rows_read);
    assert_int_equal(lore_counter_read(LORE_COUNTER_STORE_STATEMENTS) - c_stmt, s.n_statements);
    lore_store_reset_stats(st);
    lore_store_get_stats(st, &s);
    assert_int_equal(s.n_rows_written + s.n_rows_read + s.n_statements, 0);
    lore_chunk_buf_free(&buf);
    doc_free(&d);
    doc_free(&d2);
    lore_store_close(st);
}

static void test_bare_insert(void **state)
{
    (void)state;
    lore_store *st = open_ok(":memory:", NULL);
    lore_doc_info info = {.path = "bench"};
    int64_t doc_id;
    assert_int_equal(
        lore_store_put_document(st, &info, NULL, 0, NULL, 0, NULL, &doc_id, NULL, NULL), LORE_OK);
    test_doc d;
    doc_make(&d, "unused", 10, 4, 9, 5);
    lore_store_stats s0, s1;
    lore_store_get_stats(st, &s0);
    assert_int_equal(lore_store_bare_insert(st, doc_id, d.rows, 10, "t", 4, d.vec, 3), LORE_OK);
    lore_store_get_stats(st, &s1);
    assert_int_equal(s1.n_rows_written, s0.n_rows_written); /* no counters */
    assert_int_equal(n_rows(st), 10);
    int64_t ids[16];
    float vec[16 * 4];
    size_t got;
    assert_int_equal(lore_store_get_embeddings(st, "t", 4, 0, 16, ids, vec, &got), LORE_OK);
    assert_int_equal(got, 10);
    assert_memory_equal(vec, d.vec, 10 * 4 * sizeof(float));
    lore_chunk_buf buf = {0};
    assert_int_equal(lore_store_get_chunks(st, ids, got, &buf), LORE_OK);
    for (size_t i = 0; i < got; i++) {
        assert_true(buf.rows[i].found);
        assert_int_equal(buf.rows[i].ordinal, (int)i);
        assert_memory_equal(buf.rows[i].text, d.rows[i].text, 9);
    }
    int64_t n;
    int dim;
    assert_int_equal(lore_store_count_embeddings(st, "t", &n, &dim), LORE_OK);
    assert_int_equal(n, 10);
    assert_int_equal(dim, 4);
    /* All rows in one transaction; a failure (duplicate ordinal) leaves nothing half-done. */
    for (size_t i = 0; i < 10; i++)
        d.rows[i].ordinal += 10;
    assert_int_equal(lore_store_bare_insert(st, doc_id, d.rows, 10, NULL, 0, NULL, 0), LORE_OK);
    assert_int_equal(n_rows(st), 20);
    assert_int_equal(lore_store_bare_insert(st, doc_id, d.rows, 10, NULL, 0, NULL, 0), LORE_EINVAL);
    assert_int_equal(n_rows(st), 20);
    assert_int_equal(lore_store_begin(st), LORE_OK);
    assert_int_equal(lore_store_bare_insert(st, doc_id, d.rows, 1, NULL, 0, NULL, 0), LORE_ESTATE);
    assert_int_equal(lore_store_rollback(st), LORE_OK);
    lore_chunk_buf_free(&buf);
    doc_free(&d);
    lore_store_close(st);
}

/* ---- out of memory inside SQLite ----------------------------------------------------------- */

static sqlite3_mem_methods real_mem;
static long oom_fail_at = -1, oom_count, oom_after_open;

static void *oom_malloc(int n)
{
    if (oom_count++ == oom_fail_at)
        return NULL;
    return real_mem.xMalloc(n);
}

static void *oom_realloc(void *p, int n)
{
    if (oom_count++ == oom_fail_at)
        return NULL;
    return real_mem.xRealloc(p, n);
}

/* Swaps SQLite's allocator (only allowed while SQLite is shut down: no connection open). */
static void use_allocator(const sqlite3_mem_methods *m)
{
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, m), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

/* Runs open, put, get and verify with SQLite's allocation number fail_at failing. */
static long oom_round(long fail_at, test_doc *d)
{
    oom_count = 0;
    oom_fail_at = fail_at;
    lore_store *st = NULL;
    lore_status s = lore_store_open(":memory:", NULL, &st);
    if (s != LORE_OK) {
        if (s != LORE_ENOMEM)
            fail_msg("open, allocation %ld failing: status %d: %s", fail_at, (int)s,
                     lore_last_error());
        assert_null(st);
        oom_fail_at = -1;
        return oom_count;
    }
    oom_after_open = oom_count;
    s = lore_store_put_document(st, &d->info, d->rows, d->n, "t", d->dim, d->vec, NULL, d->ids,
                                NULL);
    if (s != LORE_OK && s != LORE_ENOMEM)
        fail_msg("put, allocation %ld failing: status %d: %s", fail_at, (int)s, lore_last_error());
    bool stored = s == LORE_OK;
    assert_false(lore_store_in_transaction(st));
    lore_chunk_buf buf = {0};
    lore_status g = stored ? lore_store_get_chunks(st, d->ids, d->n, &buf) : LORE_OK;
    if (g != LORE_OK && g != LORE_ENOMEM)
        fail_msg("get, allocation %ld failing: status %d: %s", fail_at, (int)g, lore_last_error());
    long used = oom_count;
    /* With allocations working again: all of the document or none of it, and a sound store. */
    oom_fail_at = -1;
    int64_t n = n_rows(st);
    assert_true(n == (stored ? (int64_t)d->n : 0) || (!stored && n == (int64_t)d->n));
    assert_int_equal(lore_store_verify(st, true), LORE_OK);
    if (stored && g == LORE_OK)
        for (size_t i = 0; i < d->n; i++)
            assert_rec_is(&buf.rows[i], d, i);
    lore_chunk_buf_free(&buf);
    lore_store_close(st);
    return used;
}

static void test_sqlite_out_of_memory(void **state)
{
    (void)state;
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    sqlite3_mem_methods m = real_mem;
    m.xMalloc = oom_malloc;
    m.xRealloc = oom_realloc;
    use_allocator(&m);
    test_doc d;
    doc_make(&d, "oom.txt", 3, 4, 50, 9);
    long total = oom_round(-1, &d);
    assert_true(total > 100);
    /* Open (mostly preparing statements, all failing the same way) in strides; every
     * allocation of the writes and reads. */
    long open_end = oom_after_open, n_rounds = 0;
    assert_true(open_end > 100 && total - open_end > 50);
    for (long k = 0; k < total; k += k < open_end ? 13 : 1, n_rounds++)
        oom_round(k, &d);
    assert_true(n_rounds > total - open_end);
    doc_free(&d);
    use_allocator(&real_mem);
}

/* ---- main ----------------------------------------------------------------------------------- */

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/lore-store-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *dir = opendir(tmp_dir);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(dir);
    }
    rmdir(tmp_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_schema),
        cmocka_unit_test(test_reopen_keeps_data),
        cmocka_unit_test(test_round_trip_exact_bytes),
        cmocka_unit_test(test_replace_and_delete),
        cmocka_unit_test(test_put_chunks_maps_returning_ids),
        cmocka_unit_test(test_get_chunks_every_bucket),
        cmocka_unit_test(test_get_embeddings_paging),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_explicit_transactions),
        cmocka_unit_test(test_locked_database),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_refuses_non_sqlite_files),
        cmocka_unit_test(test_refuses_foreign_and_newer),
        cmocka_unit_test(test_corrupt_store),
        cmocka_unit_test(test_verify_finds_damage),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_stats_and_counters),
        cmocka_unit_test(test_bare_insert),
        cmocka_unit_test(test_sqlite_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
