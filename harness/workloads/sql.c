/*
 * sql.c - workload: the SQLite store's read and write paths alone, with no
 * model or index in the way.
 *
 * Every point gets a store file of its own in a fresh temporary folder
 * (mkdtemp under $TMPDIR, else /tmp), removed at teardown; the label
 * "filesystem" says what the folder is on, because fsync on tmpfs is free and
 * synchronous=full means nothing there.
 *
 * mode=read: setup fills the store with n_rows synthetic chunks (text_bytes of
 * text and a dim-float vector each), documents of FILL_DOC_CHUNKS chunks
 * written with lore_store_put_document, all in one transaction (not timed).
 * One operation is one lore_store_get_chunks of n_ids stored ids; the ids are
 * drawn at random before measuring, distinct within an operation as a query's
 * hits are (repeats only when n_ids > n_rows), every one a hit, into a ring of
 * RING_OPS operations that the operations walk through. The store's max_bind_params is `bind`:
 * 1 reads one statement per id, more binds up to that many ids per IN (...).
 * Items are ids read. Setup reads some ids back and checks their text, and
 * every operation checks that it got n_ids rows, all found.
 *
 * mode=write: one operation inserts n_rows rows (chunk and vector) through
 * impl=store (lore_store_begin, lore_store_put_chunks of rows_per_txn rows
 * with their ids returned, lore_store_commit, until all are in) or impl=bare
 * (lore_store_bare_insert: the same rows through a bare prepared-statement
 * loop committing every rows_per_txn rows). rows_per_txn 0, or above n_rows,
 * puts an operation's rows in one transaction. All operations of a point
 * append to one document made in setup, with ordinals continuing from one
 * operation to the next, so no operation pays for a document row the other
 * impl does not and the UNIQUE(doc_id, ordinal) key never collides. The file
 * grows by n_rows rows per operation; db_bytes reports its size at the end.
 * Items are rows written.
 *
 * Texts: row i's text starts with "c<i> " and continues with words from a
 * seeded generator; vectors are seeded uniform floats (their values do not
 * matter to SQLite, only their size).
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lore/lore.h"
#include "lore/store.h"
#include "workload.h"

#define FILL_DOC_CHUNKS 1000
#define TEXT_POOL 256
#define CHECK_READS 16
#define TIER "sql"
#define RING_MAX_IDS (1 << 20)
#define RING_OPS 16

static const char *const mode_choices[] = {"read", "write", NULL};
static const char *const impl_choices[] = {"store", "bare", NULL};
static const char *const sync_choices[] = {"normal", "full", "off", NULL};

static const bench_param_spec params[] = {
    {"mode", BENCH_PARAM_STRING, "read", 0, 0, mode_choices, "",
     "read: lore_store_get_chunks of n_ids stored ids per operation; write: n_rows rows "
     "inserted per operation"},
    {"n_rows", BENCH_PARAM_INT, "10000", 1, 1e7, NULL, "rows",
     "read: chunks in the store (filled in setup, not timed); write: rows inserted per "
     "operation"},
    {"dim", BENCH_PARAM_INT, "384", 0, 65536, NULL, "",
     "floats in each row's vector (0: chunk rows only, no embeddings)"},
    {"text_bytes", BENCH_PARAM_INT, "500", 16, 1 << 20, NULL, "bytes", "chunk text per row"},
    {"seed", BENCH_PARAM_INT, "1", 0, 1e15, NULL, "", "seed of the texts, vectors and read ids"},
    {"n_ids", BENCH_PARAM_INT, "100", 1, 1e6, NULL, "ids",
     "read: ids per operation, drawn at random from the stored chunks, distinct within an "
     "operation unless n_ids > n_rows"},
    {"bind", BENCH_PARAM_INT, "256", 1, 32766, NULL, "params",
     "read: the store's max_bind_params: ids per IN (...) statement; 1: one statement per id"},
    {"impl", BENCH_PARAM_STRING, "store", 0, 0, impl_choices, "",
     "write: store (begin, put_chunks with RETURNING ids, commit) or bare "
     "(lore_store_bare_insert: a bare prepared-statement loop, the yardstick)"},
    {"rows_per_txn", BENCH_PARAM_INT, "0", 0, 1e9, NULL, "rows",
     "write: rows per transaction; 0 (or more than n_rows): all rows of an operation in one"},
    {"synchronous", BENCH_PARAM_STRING, "normal", 0, 0, sync_choices, "",
     "SQLite's synchronous setting (the store runs in WAL mode)"},
};

typedef struct state {
    char dir[512];
    char db_path[600];
    bool dir_made;
    lore_store *st;
    bool write;
    bool bare;
    size_t n_rows;
    int dim;
    size_t text_bytes;
    const char *sync_name;
    uint64_t rng;

    /* write mode */
    int64_t doc_id;
    int64_t next_ordinal; /* first ordinal of the next operation */
    size_t rows_per_txn;  /* 0: all in one */
    char *texts;          /* TEXT_POOL texts of text_bytes */
    lore_chunk_row *rows; /* n_rows */
    float *vectors;       /* n_rows * dim */
    int64_t *chunk_ids;   /* n_rows */

    /* read mode */
    size_t n_ids;
    int bind;
    int64_t *ids; /* ring of ring_len ids */
    size_t ring_len, cursor;
    lore_chunk_buf buf;
    int64_t check_reads; /* rows checked in setup */

    uint64_t n_ops;
} state;

static uint64_t next_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* len bytes of lowercase words and single spaces (no NUL added). */
static void fill_words(uint64_t *rng, char *out, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t word = 2 + next_rand(rng) % 9;
        for (size_t j = 0; j < word && i < len; j++)
            out[i++] = (char)('a' + next_rand(rng) % 26);
        if (i < len)
            out[i++] = ' ';
    }
}

static void fill_vector(uint64_t *rng, float *v, int dim)
{
    for (int i = 0; i < dim; i++)
        v[i] = (float)((double)(next_rand(rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* Row i's text: "c<i> " then words; written into out (text_bytes bytes). */
static void row_text(state *s, size_t i, char *out)
{
    fill_words(&s->rng, out, s->text_bytes);
    char tag[32];
    int n = snprintf(tag, sizeof tag, "c%zu ", i);
    memcpy(out, tag, (size_t)n < s->text_bytes ? (size_t)n : s->text_bytes);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    lore_store_close(s->st);
    if (s->dir_made)
        nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s->texts);
    free(s->rows);
    free(s->vectors);
    free(s->chunk_ids);
    free(s->ids);
    lore_chunk_buf_free(&s->buf);
    free(s);
}

static lore_store_sync sync_of(const char *name)
{
    return strcmp(name, "full") == 0  ? LORE_STORE_SYNC_FULL
           : strcmp(name, "off") == 0 ? LORE_STORE_SYNC_OFF
                                      : LORE_STORE_SYNC_NORMAL;
}

static int open_store(state *s, const bench_params *p, bench_err *e)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    int n = snprintf(s->dir, sizeof s->dir, "%s/lore-sql-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof s->dir)
        return bench_err_set(e, "sql: temporary folder name too long under %s", tmp);
    if (!mkdtemp(s->dir))
        return bench_err_set(e, "sql: cannot create a temporary folder %s: %s", s->dir,
                             strerror(errno));
    s->dir_made = true;
    snprintf(s->db_path, sizeof s->db_path, "%s/store.db", s->dir);
    lore_store_params sp = lore_store_default_params();
    sp.synchronous = sync_of(s->sync_name);
    if (!s->write)
        sp.max_bind_params = (int)bench_params_int(p, "bind");
    if (lore_store_open(s->db_path, &sp, &s->st) != LORE_OK)
        return bench_err_set(e, "sql: %s", lore_last_error());
    return 0;
}

/* Texts and vectors of one operation's rows (write mode); the ordinals are set per operation. */
static int make_write_rows(state *s, bench_err *e)
{
    size_t n = s->n_rows, dim = (size_t)s->dim;
    s->texts = malloc(TEXT_POOL * s->text_bytes);
    s->rows = calloc(n, sizeof *s->rows);
    s->chunk_ids = malloc(n * sizeof *s->chunk_ids);
    s->vectors = dim ? malloc(n * dim * sizeof *s->vectors) : NULL;
    if (!s->texts || !s->rows || !s->chunk_ids || (dim && !s->vectors))
        return bench_err_set(e, "sql: out of memory for %zu rows of %zu bytes and %zu floats", n,
                             s->text_bytes, dim);
    for (size_t i = 0; i < TEXT_POOL; i++)
        row_text(s, i, s->texts + i * s->text_bytes);
    for (size_t i = 0; i < n; i++) {
        s->rows[i].byte_begin = (int64_t)(i * s->text_bytes);
        s->rows[i].byte_end = (int64_t)((i + 1) * s->text_bytes);
        s->rows[i].text = s->texts + (i % TEXT_POOL) * s->text_bytes;
        s->rows[i].text_len = s->text_bytes;
    }
    for (size_t i = 0; dim && i < n; i++)
        fill_vector(&s->rng, s->vectors + i * dim, s->dim);
    /* The document every operation appends to. */
    lore_doc_info doc = {.path = "sql/write", .size_bytes = 0, .mtime_ns = 0};
    if (lore_store_put_document(s->st, &doc, NULL, 0, NULL, 0, NULL, &s->doc_id, NULL, NULL) !=
        LORE_OK)
        return bench_err_set(e, "sql: %s", lore_last_error());
    return 0;
}

/* Fills the store with n_rows chunks in one transaction; stored ids into all_ids. */
static int fill_store(state *s, int64_t *all_ids, bench_err *e)
{
    size_t dim = (size_t)s->dim, per = FILL_DOC_CHUNKS < s->n_rows ? FILL_DOC_CHUNKS : s->n_rows;
    char *texts = malloc(per * s->text_bytes);
    lore_chunk_row *rows = calloc(per, sizeof *rows);
    float *vec = dim ? malloc(per * dim * sizeof *vec) : NULL;
    int rc = -1;
    if (!texts || !rows || (dim && !vec)) {
        bench_err_set(e, "sql: out of memory filling the store");
        goto done;
    }
    if (lore_store_begin(s->st) != LORE_OK) {
        bench_err_set(e, "sql: fill: %s", lore_last_error());
        goto done;
    }
    for (size_t at = 0, d = 0; at < s->n_rows; at += per, d++) {
        size_t m = s->n_rows - at < per ? s->n_rows - at : per;
        for (size_t i = 0; i < m; i++) {
            row_text(s, at + i, texts + i * s->text_bytes);
            rows[i] = (lore_chunk_row){.ordinal = (int32_t)i,
                                       .byte_begin = (int64_t)(i * s->text_bytes),
                                       .byte_end = (int64_t)((i + 1) * s->text_bytes),
                                       .text = texts + i * s->text_bytes,
                                       .text_len = s->text_bytes};
            if (dim)
                fill_vector(&s->rng, vec + i * dim, s->dim);
        }
        char path[64];
        snprintf(path, sizeof path, "sql/doc-%06zu", d);
        lore_doc_info doc = {.path = path, .size_bytes = (int64_t)(m * s->text_bytes)};
        doc.hash[0] = (uint8_t)d;
        if (lore_store_put_document(s->st, &doc, rows, m, dim ? TIER : NULL, s->dim, vec, NULL,
                                    all_ids + at, NULL) != LORE_OK) {
            bench_err_set(e, "sql: fill: %s", lore_last_error());
            goto done;
        }
    }
    if (lore_store_commit(s->st) != LORE_OK) {
        bench_err_set(e, "sql: fill: commit: %s", lore_last_error());
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        lore_store_rollback(s->st);
    free(texts);
    free(rows);
    free(vec);
    return rc;
}

/* Reads a few ids back and checks they are the rows written there. */
static int check_fill(state *s, const int64_t *all_ids, bench_err *e)
{
    size_t n_check = s->n_rows < CHECK_READS ? s->n_rows : CHECK_READS;
    int64_t ids[CHECK_READS];
    size_t idx[CHECK_READS];
    for (size_t i = 0; i < n_check; i++) {
        idx[i] = (size_t)(next_rand(&s->rng) % s->n_rows);
        ids[i] = all_ids[idx[i]];
    }
    if (lore_store_get_chunks(s->st, ids, n_check, &s->buf) != LORE_OK)
        return bench_err_set(e, "sql: check read: %s", lore_last_error());
    if (s->buf.n != n_check)
        return bench_err_set(e, "sql: check read of %zu ids returned %zu rows", n_check, s->buf.n);
    for (size_t i = 0; i < n_check; i++) {
        const lore_chunk_rec *r = &s->buf.rows[i];
        char tag[32];
        int n = snprintf(tag, sizeof tag, "c%zu ", idx[i]);
        if (!r->found || r->id != ids[i] || r->text_len != s->text_bytes ||
            strncmp(r->text, tag, (size_t)n) != 0)
            return bench_err_set(e,
                                 "sql: check read: id %" PRId64 " (row %zu) came back %s with "
                                 "text \"%.16s\" (%zu bytes); expected \"%s...\" (%zu bytes)",
                                 ids[i], idx[i], r->found ? "found" : "missing",
                                 r->text ? r->text : "", r->text_len, tag, s->text_bytes);
    }
    s->check_reads = (int64_t)n_check;
    return 0;
}

static int setup_read(state *s, const bench_params *p, bench_err *e)
{
    s->n_ids = (size_t)bench_params_int(p, "n_ids");
    s->bind = (int)bench_params_int(p, "bind");
    int64_t *all_ids = malloc(s->n_rows * sizeof *all_ids);
    if (!all_ids)
        return bench_err_set(e, "sql: out of memory for %zu ids", s->n_rows);
    if (fill_store(s, all_ids, e) != 0 || check_fill(s, all_ids, e) != 0) {
        free(all_ids);
        return -1;
    }
    /* A ring of RING_OPS operations' ids (fewer for huge n_ids), a whole number of them. */
    size_t ops = RING_MAX_IDS / s->n_ids;
    ops = ops < 1 ? 1 : ops > RING_OPS ? RING_OPS : ops;
    s->ring_len = ops * s->n_ids;
    s->ids = malloc(s->ring_len * sizeof *s->ids);
    if (!s->ids) {
        free(all_ids);
        return bench_err_set(e, "sql: out of memory for %zu ids", s->ring_len);
    }
    /* Distinct ids within an operation, as a query's hits are (a partial Fisher-Yates
     * shuffle per operation); only n_ids above n_rows forces repeats. */
    for (size_t op = 0; op < ops; op++)
        for (size_t j = 0; j < s->n_ids; j++) {
            size_t at = j % s->n_rows;
            size_t pick = at + (size_t)(next_rand(&s->rng) % (s->n_rows - at));
            int64_t t = all_ids[at];
            all_ids[at] = all_ids[pick];
            all_ids[pick] = t;
            s->ids[op * s->n_ids + j] = all_ids[at];
        }
    free(all_ids);
    return 0;
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "sql: out of memory");
    s->write = strcmp(bench_params_string(p, "mode"), "write") == 0;
    s->bare = strcmp(bench_params_string(p, "impl"), "bare") == 0;
    s->n_rows = (size_t)bench_params_int(p, "n_rows");
    s->dim = (int)bench_params_int(p, "dim");
    s->text_bytes = (size_t)bench_params_int(p, "text_bytes");
    s->sync_name = bench_params_string(p, "synchronous");
    s->rng = (uint64_t)bench_params_int(p, "seed") * 0x2545f4914f6cdd1dULL + 1;
    int64_t rpt = bench_params_int(p, "rows_per_txn");
    s->rows_per_txn = rpt == 0 || (size_t)rpt >= s->n_rows ? 0 : (size_t)rpt;
    if (open_store(s, p, e) != 0)
        goto fail;
    if (s->write ? make_write_rows(s, e) : setup_read(s, p, e))
        goto fail;
    lore_store_reset_stats(s->st);
    *out = s;
    return 0;
fail:
    teardown(s);
    return -1;
}

static int run_read(state *s, bench_err *e)
{
    const int64_t *ids = s->ids + s->cursor;
    s->cursor += s->n_ids;
    if (s->cursor >= s->ring_len)
        s->cursor = 0;
    if (lore_store_get_chunks(s->st, ids, s->n_ids, &s->buf) != LORE_OK)
        return bench_err_set(e, "sql: read: %s", lore_last_error());
    if (s->buf.n != s->n_ids)
        return bench_err_set(e, "sql: read of %zu ids returned %zu rows", s->n_ids, s->buf.n);
    for (size_t i = 0; i < s->n_ids; i++)
        if (!s->buf.rows[i].found || s->buf.rows[i].id != ids[i])
            return bench_err_set(e, "sql: read: stored id %" PRId64 " came back %s as id %" PRId64,
                                 ids[i], s->buf.rows[i].found ? "found" : "missing",
                                 s->buf.rows[i].id);
    return 0;
}

static int run_write(state *s, bench_err *e)
{
    size_t n = s->n_rows;
    if (s->next_ordinal + (int64_t)n > INT32_MAX)
        return bench_err_set(e,
                             "sql: write: ordinals of the point's document would pass "
                             "2^31 (too many operations of %zu rows)",
                             n);
    for (size_t i = 0; i < n; i++)
        s->rows[i].ordinal = (int32_t)(s->next_ordinal + (int64_t)i);
    s->next_ordinal += (int64_t)n;
    const char *tier = s->dim ? TIER : NULL;
    if (s->bare) {
        if (lore_store_bare_insert(s->st, s->doc_id, s->rows, n, tier, s->dim, s->vectors,
                                   (int)s->rows_per_txn) != LORE_OK)
            return bench_err_set(e, "sql: bare insert: %s", lore_last_error());
        return 0;
    }
    size_t step = s->rows_per_txn ? s->rows_per_txn : n;
    for (size_t at = 0; at < n; at += step) {
        size_t m = n - at < step ? n - at : step;
        const float *vec = s->dim ? s->vectors + at * (size_t)s->dim : NULL;
        if (lore_store_begin(s->st) != LORE_OK ||
            lore_store_put_chunks(s->st, s->doc_id, s->rows + at, m, tier, s->dim, vec,
                                  s->chunk_ids + at) != LORE_OK ||
            lore_store_commit(s->st) != LORE_OK) {
            bench_err_set(e, "sql: write rows %zu..%zu: %s", at, at + m - 1, lore_last_error());
            lore_store_rollback(s->st);
            return -1;
        }
    }
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    s->n_ops++;
    return s->write ? run_write(s, e) : run_read(s, e);
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return s->write ? (double)s->n_rows : (double)s->n_ids;
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    const state *s = opaque;
    lore_store_info info;
    memset(&info, 0, sizeof info);
    lore_store_stats st;
    lore_store_get_stats(s->st, &st);
    char wal[640];
    snprintf(wal, sizeof wal, "%s-wal", s->db_path);
    double per_op = s->n_ops ? 1.0 / (double)s->n_ops : 0.0;
    double row_bytes = (double)s->text_bytes + 4.0 * s->dim;
    int rc = bench_metric_add(out, "rows_per_s", m->items_per_s, "rows/s", BENCH_BETTER_HIGHER);
    if (m->items_per_s > 0)
        rc |= bench_metric_add(out, s->write ? "us_per_row" : "us_per_id", 1e6 / m->items_per_s,
                               "us", BENCH_BETTER_LOWER);
    /* From the median operation too: steadier than the mean on a shared machine. */
    double items = s->write ? (double)s->n_rows : (double)s->n_ids;
    rc |= bench_metric_add(out, s->write ? "us_per_row_p50" : "us_per_id_p50",
                           m->latency_ns->p50 / 1e3 / items, "us", BENCH_BETTER_LOWER);
    rc |= bench_metric_add(out, "payload_mb_per_s", m->items_per_s * row_bytes / 1e6, "MB/s",
                           BENCH_BETTER_HIGHER);
    if (lore_store_get_info(s->st, &info) == LORE_OK) {
        rc |=
            bench_metric_add(out, "db_bytes", (double)info.file_bytes, "bytes", BENCH_BETTER_NONE);
        rc |= bench_metric_add(out, "db_chunks", (double)info.n_chunks, "rows", BENCH_BETTER_NONE);
    }
    rc |= bench_metric_add(out, "wal_bytes", (double)file_size(wal), "bytes", BENCH_BETTER_NONE);
    /* The store's own stats since setup (warm-up included, as n_ops is); the bare path keeps
     * none, so for it the transactions are what rows_per_txn implies. */
    if (s->write && s->bare) {
        size_t step = s->rows_per_txn ? s->rows_per_txn : s->n_rows;
        rc |= bench_metric_add(out, "transactions_per_op", (double)((s->n_rows + step - 1) / step),
                               "count", BENCH_BETTER_NONE);
    } else {
        rc |= bench_metric_add(out, "statements_per_op", (double)st.n_statements * per_op, "count",
                               BENCH_BETTER_NONE);
        rc |= bench_metric_add(out, "transactions_per_op", (double)st.n_transactions * per_op,
                               "count", BENCH_BETTER_NONE);
        if (s->write) {
            rc |= bench_metric_add(out, "rows_written_per_op", (double)st.n_rows_written * per_op,
                                   "rows", BENCH_BETTER_NONE);
            rc |= bench_metric_add(out, "bytes_written_per_op", (double)st.n_bytes_written * per_op,
                                   "bytes", BENCH_BETTER_NONE);
        } else {
            rc |= bench_metric_add(out, "rows_read_per_op", (double)st.n_rows_read * per_op, "rows",
                                   BENCH_BETTER_NONE);
        }
    }
    return rc ? -1 : 0;
}

static const char *fs_name(const char *dir, char *buf, size_t size)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return "unknown";
    switch ((unsigned long)sf.f_type) {
    case 0x01021994UL:
        return "tmpfs (fsync is free: synchronous changes nothing)";
    case 0xEF53UL:
        return "ext2/3/4";
    case 0x58465342UL:
        return "xfs";
    case 0x9123683EUL:
        return "btrfs";
    case 0x794c7630UL:
        return "overlayfs";
    }
    snprintf(buf, size, "statfs type 0x%lx", (unsigned long)sf.f_type);
    return buf;
}

static int labels(const void *opaque, cJSON *out)
{
    const state *s = opaque;
    lore_store_info info;
    memset(&info, 0, sizeof info);
    lore_store_get_info(s->st, &info);
    char wal[640], fs[64], impl[160], layout[200];
    snprintf(wal, sizeof wal, "%s-wal", s->db_path);
    struct stat sb;
    const char *journal = stat(wal, &sb) == 0 ? "wal" : "wal asked for, but no -wal file seen";
    if (!s->write)
        snprintf(impl, sizeof impl, "lore_store_get_chunks, max_bind_params %d (%s)", s->bind,
                 s->bind == 1 ? "one statement per id" : "IN lists");
    else if (s->bare)
        snprintf(impl, sizeof impl, "bare: lore_store_bare_insert (prepared-statement loop)");
    else
        snprintf(impl, sizeof impl, "store: begin, put_chunks (RETURNING ids), commit");
    if (s->write)
        snprintf(
            layout, sizeof layout, "%zu rows per operation appended to one document; %s", s->n_rows,
            s->rows_per_txn ? "a commit every rows_per_txn rows" : "one transaction per operation");
    else
        snprintf(layout, sizeof layout,
                 "%zu chunks in documents of %d, filled in one transaction; %zu random stored "
                 "ids per read%s",
                 s->n_rows, FILL_DOC_CHUNKS, s->n_ids,
                 s->n_ids > s->n_rows ? " (with repeats: more ids than rows)" : ", all distinct");
    bool ok = cJSON_AddStringToObject(out, "sqlite_version",
                                      info.sqlite_version ? info.sqlite_version : "unknown") &&
              cJSON_AddStringToObject(out, "synchronous", s->sync_name) &&
              cJSON_AddStringToObject(out, "journal_mode", journal) &&
              cJSON_AddStringToObject(out, "impl", impl) &&
              cJSON_AddStringToObject(out, "layout", layout) &&
              cJSON_AddStringToObject(out, "filesystem", fs_name(s->dir, fs, sizeof fs));
    return ok ? 0 : -1;
}

const bench_workload bench_workload_sql = {
    .name = "sql",
    .description = "the SQLite store alone: chunk reads by id lists (IN lists vs one statement "
                   "per id) and chunk+vector inserts (the store's path vs a bare loop)",
    .item_unit = "row",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .labels = labels,
    .teardown = teardown,
};
