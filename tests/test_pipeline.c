/*
 * test_pipeline.c - the ingest and query pipelines end to end, on the tiny
 * BERT fixtures (tests/fixtures/tiny-bert, tiny-bert-nli) so every test is
 * fast.
 *
 * Oracles: a query equal to a chunk's text must find that chunk first (its
 * vector is the stored one, so the inner product is ~1); chunk offsets must
 * give back the chunk's text from the source file; the database is checked
 * with SQLite directly (integrity, every document whole); the index must
 * hold exactly the stored embeddings; NLI probabilities are recomputed with
 * the NLI model alone. Crash safety: a child ingesting is killed with
 * SIGKILL at several moments and the database must stay whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lore/lore.h"
#include "test_util.h"

#define TINY LORE_FIXTURES_DIR "/tiny-bert"
#define TINY_NLI LORE_FIXTURES_DIR "/tiny-bert-nli"
#define TIER "tiny-bert"
#define CHUNK_SIZE 120
#define CHUNK_OVERLAP 20

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    char db[128];
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/lore-pipe-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/store.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static char *read_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* Words of the tiny vocabulary, so texts tokenize into whole words. */
static const char *const WORDS[] = {
    "the",    "quick",     "brown",  "fox",   "jump",   "over",    "lazy",    "dog",
    "cat",    "sat",       "on",     "mat",   "hello",  "world",   "is",      "was",
    "are",    "this",      "that",   "it",    "of",     "and",     "to",      "in",
    "for",    "with",      "not",    "no",    "yes",    "man",     "woman",   "person",
    "people", "playing",   "play",   "plays", "music",  "guitar",  "piano",   "outside",
    "inside", "sleeping",  "eating", "food",  "water",  "sun",     "rain",    "raining",
    "out",    "day",       "night",  "today", "good",   "bad",     "very",    "he",
    "she",    "they",      "we",     "you",   "am",     "my",      "like",    "likes",
    "coffee", "tea",       "run",    "token", "search", "engine",  "engines", "local",
    "model",  "retrieval", "text",   "embed", "vector", "vectors", "index",   "query",
    "fast",   "slow",      "small",  "large", "big",    "red",     "blue",    "green",
    "house",  "car",       "street", "city",  "paris",  "france",  "capital", "london",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A document of n_words vocabulary words in sentences; malloc'd, NUL-terminated. */
static char *make_text(uint64_t seed, size_t n_words)
{
    char *b = malloc(n_words * 12 + 16);
    assert_non_null(b);
    size_t o = 0;
    uint64_t x = seed * 7919 + 17;
    for (size_t i = 0; i < n_words; i++) {
        const char *w = WORDS[rng_next(&x) % N_WORDS];
        size_t k = strlen(w);
        memcpy(b + o, w, k);
        o += k;
        bool end = i + 1 == n_words || rng_next(&x) % 8 == 0;
        if (end)
            b[o++] = '.';
        if (i + 1 < n_words)
            b[o++] = ' ';
    }
    b[o] = '\0';
    return b;
}

static lore_pipeline_params base_params(lore_index_kind kind)
{
    lore_pipeline_params p = lore_pipeline_default_params();
    p.embed.model_dir = TINY;
    p.embed.batch_size = 16;
    p.embed.cache_bytes = (size_t)1 << 20;
    p.chunk.size = CHUNK_SIZE;
    p.chunk.overlap = CHUNK_OVERLAP;
    p.index = lore_index_default_params(kind, 0);
    p.index.n_lists = 4;
    p.index.M = 8;
    p.index.ef_construction = 64;
    p.rows_per_txn = 16;
    p.embed_batch = 8;
    p.nli_model.model_dir = TINY_NLI;
    return p;
}

static lore_query_params qparams(int k)
{
    lore_query_params q = lore_query_default_params();
    q.k = k;
    q.rerank_depth = 2 * k;
    q.search.n_probes = 4; /* = n_lists: exact */
    q.search.ef_search = 128;
    return q;
}

static lore_pipeline *open_ok(const char *db, const lore_pipeline_params *pp,
                              lore_pipeline_open_info *info)
{
    lore_pipeline *p = NULL;
    lore_status s = lore_pipeline_open(db, pp, &p, info);
    if (s != LORE_OK)
        fail_msg("lore_pipeline_open(%s): %s: %s", db, lore_strerror(s), lore_last_error());
    assert_non_null(p);
    return p;
}

static void ingest_texts_ok(lore_pipeline *p, const lore_doc_text *docs, size_t n,
                            lore_ingest_report *rep)
{
    lore_status s = lore_pipeline_ingest_texts(p, docs, n, NULL, NULL, rep);
    if (s != LORE_OK)
        fail_msg("ingest_texts: %s: %s", lore_strerror(s), lore_last_error());
}

static void query_ok(lore_pipeline *p, const char *text, const lore_query_params *q,
                     lore_query_result *res)
{
    lore_status s = lore_pipeline_query(p, text, strlen(text), q, res);
    if (s != LORE_OK)
        fail_msg("query '%.40s': %s: %s", text, lore_strerror(s), lore_last_error());
}

/* The chunks the pipeline's chunker makes of text (char mode, the test's sizes). */
static lore_chunk_list split(const char *text, size_t len)
{
    lore_chunker_params cp = lore_chunker_default_params();
    cp.size = CHUNK_SIZE;
    cp.overlap = CHUNK_OVERLAP;
    lore_chunk_list l = {0};
    assert_int_equal(lore_chunker_split(&cp, text, len, &l), LORE_OK);
    return l;
}

/* A query equal to chunk j of src finds that chunk first, with its source offsets. */
static int64_t expect_top(lore_pipeline *p, const char *path, const char *src, size_t j,
                          const lore_query_params *q, lore_query_result *res)
{
    lore_chunk_list l = split(src, strlen(src));
    assert_true(j < l.n);
    size_t b = l.items[j].begin, e = l.items[j].end;
    char *qt = strndup(src + b, e - b);
    assert_non_null(qt);
    query_ok(p, qt, q, res);
    assert_true(res->n_hits >= 1);
    const lore_hit *h = &res->hits[0];
    if (strcmp(h->text, qt) != 0)
        fail_msg("top hit for chunk %zu of %s is '%s' (%s), expected '%s'", j, path, h->text,
                 h->path, qt);
    assert_string_equal(h->path, path);
    assert_int_equal(h->byte_begin, (int64_t)b);
    assert_int_equal(h->byte_end, (int64_t)e);
    assert_int_equal(h->ordinal, (int32_t)j);
    assert_int_equal(h->text_len, e - b);
    assert_true(h->score > 0.999f && h->score < 1.001f);
    int64_t id = h->chunk_id;
    free(qt);
    lore_chunk_list_free(&l);
    return id;
}

static lore_store_info store_info(lore_pipeline *p)
{
    lore_store_info si;
    assert_int_equal(lore_store_get_info(lore_pipeline_store(p), &si), LORE_OK);
    return si;
}

/* The index holds exactly the stored embeddings. */
static void expect_index_matches_store(lore_pipeline *p)
{
    int64_t n = 0;
    int dim = 0;
    assert_int_equal(lore_store_count_embeddings(lore_pipeline_store(p), TIER, &n, &dim), LORE_OK);
    assert_int_equal((int64_t)lore_index_size(lore_pipeline_index(p)), n);
}

static const lore_ingest_skip *find_skip(const lore_ingest_report *r, const char *suffix)
{
    for (int64_t i = 0; i < r->n_skipped; i++) {
        size_t a = strlen(r->skips[i].path), b = strlen(suffix);
        if (a >= b && strcmp(r->skips[i].path + a - b, suffix) == 0)
            return &r->skips[i];
    }
    fail_msg("no skip for '%s'", suffix);
    return NULL;
}

static void expect_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("'%s' does not contain '%s'", hay ? hay : "(null)", needle);
}

/* ---- SQLite, independently of the store ------------------------------------------------- */

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK)
        fail_msg("sqlite3_open_v2(%s): %s", path, db ? sqlite3_errmsg(db) : "?");
    return db;
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* integrity_check is ok and every document is whole: n_chunks chunks, each with a vector. */
static void db_check_whole(const char *path)
{
    sqlite3 *db = db_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(db_int(db, "SELECT count(*) FROM documents d WHERE d.n_chunks != "
                                "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id)"),
                     0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM "
                                "embeddings e WHERE e.chunk_id = c.id AND e.tier = '" TIER "')"),
                     0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                                "(SELECT 1 FROM documents d WHERE d.id = c.doc_id)"),
                     0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM embeddings e WHERE NOT EXISTS "
                                "(SELECT 1 FROM chunks c WHERE c.id = e.chunk_id)"),
                     0);
    sqlite3_close(db);
}

/* Every stored chunk of the document path is source[byte_begin, byte_end). */
static void db_check_offsets(const char *dbpath, const char *path, const char *src, size_t len)
{
    sqlite3 *db = db_open(dbpath);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT c.byte_begin, c.byte_end, c.text, d.n_chunks "
                                        "FROM chunks c JOIN documents d ON d.id = c.doc_id "
                                        "WHERE d.path = ?1 ORDER BY c.ordinal",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
    lore_chunk_list l = split(src, len);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0), e = sqlite3_column_int64(st, 1);
        assert_true(n < l.n);
        assert_int_equal(b, (int64_t)l.items[n].begin);
        assert_int_equal(e, (int64_t)l.items[n].end);
        assert_true(b >= 0 && e <= (int64_t)len && b < e);
        assert_int_equal(sqlite3_column_bytes(st, 2), e - b);
        assert_memory_equal(sqlite3_column_text(st, 2), src + b, (size_t)(e - b));
        assert_int_equal(sqlite3_column_int64(st, 3), (int64_t)l.n);
        n++;
    }
    assert_int_equal(n, l.n);
    lore_chunk_list_free(&l);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- a folder of documents --------------------------------------------------------------- */

#define N_VALID 4
static const char *const VALID_NAMES[N_VALID] = {"a.txt", "b.txt", "c.txt", "sub/d.txt"};
#define HUGE_BYTES ((size_t)1 << 20)
#define BAD_OFF1 37

typedef struct folder {
    char root[128];
    char *valid[N_VALID]; /* texts of the valid documents */
    char *bad;            /* text of bad.txt (two ill-formed sequences) */
    size_t bad_len;
    int64_t bytes_read; /* bytes of every file the pipeline reads */
} folder;

static void make_folder(const fixture *fx, folder *f)
{
    char p[256];
    memset(f, 0, sizeof *f);
    path_join(f->root, sizeof f->root, fx->dir, "docs");
    assert_int_equal(mkdir(f->root, 0755), 0);
    path_join(p, sizeof p, f->root, "sub");
    assert_int_equal(mkdir(p, 0755), 0);
    path_join(p, sizeof p, f->root, ".hiddendir");
    assert_int_equal(mkdir(p, 0755), 0);
    for (int i = 0; i < N_VALID; i++) {
        f->valid[i] = make_text(100 + (uint64_t)i, 60 + 10 * (size_t)i);
        path_join(p, sizeof p, f->root, VALID_NAMES[i]);
        write_bytes(p, f->valid[i], strlen(f->valid[i]));
        f->bytes_read += (int64_t)strlen(f->valid[i]);
    }
    /* Hidden entries are never looked at. */
    char *h = make_text(900, 40);
    path_join(p, sizeof p, f->root, ".hidden.txt");
    write_bytes(p, h, strlen(h));
    path_join(p, sizeof p, f->root, ".hiddendir/e.txt");
    write_bytes(p, h, strlen(h));
    free(h);
    /* Binary: a NUL at offset 12. */
    char bin[64];
    memset(bin, 'b', sizeof bin);
    bin[12] = '\0';
    path_join(p, sizeof p, f->root, "bin.dat");
    write_bytes(p, bin, sizeof bin);
    f->bytes_read += (int64_t)sizeof bin;
    path_join(p, sizeof p, f->root, "empty.txt");
    write_bytes(p, "", 0);
    /* Invalid UTF-8: a lone 0xff at BAD_OFF1 and a truncated 3-byte sequence later. */
    char *t = make_text(300, 50);
    size_t n = strlen(t);
    f->bad = malloc(n + 8);
    assert_non_null(f->bad);
    memcpy(f->bad, t, BAD_OFF1);
    f->bad[BAD_OFF1] = (char)0xff;
    memcpy(f->bad + BAD_OFF1 + 1, t + BAD_OFF1, n - BAD_OFF1);
    f->bad_len = n + 1;
    memcpy(f->bad + 200, "\xe2\x82", 2); /* replaces two ASCII bytes */
    free(t);
    path_join(p, sizeof p, f->root, "bad.txt");
    write_bytes(p, f->bad, f->bad_len);
    f->bytes_read += (int64_t)f->bad_len;
    /* One line of 1 MiB without a space, and a file over max_file_bytes. */
    char *huge = malloc(2 * HUGE_BYTES);
    assert_non_null(huge);
    memset(huge, 'x', 2 * HUGE_BYTES);
    path_join(p, sizeof p, f->root, "huge.txt");
    write_bytes(p, huge, HUGE_BYTES);
    f->bytes_read += (int64_t)HUGE_BYTES;
    path_join(p, sizeof p, f->root, "big.txt");
    write_bytes(p, huge, 2 * HUGE_BYTES);
    free(huge);
    /* Not documents: a fifo and a link to a folder (never followed). */
    path_join(p, sizeof p, f->root, "fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    path_join(p, sizeof p, f->root, "link_dir");
    assert_int_equal(symlink("sub", p), 0);
}

static void free_folder(folder *f)
{
    for (int i = 0; i < N_VALID; i++)
        free(f->valid[i]);
    free(f->bad);
}

typedef struct progress_log {
    int calls;
    int64_t last_done, last_total, last_chunks;
    bool monotonic;
    int stop_after; /* > 0: return false on that call */
} progress_log;

static bool log_progress(void *ctx, const lore_ingest_progress *pr)
{
    progress_log *l = ctx;
    if (pr->n_done < l->last_done || pr->n_done > pr->n_total || !pr->path)
        l->monotonic = false;
    l->calls++;
    l->last_done = pr->n_done;
    l->last_total = pr->n_total;
    l->last_chunks = pr->n_chunks;
    return !(l->stop_after > 0 && l->calls >= l->stop_after);
}

static void test_ingest_folder(void **state)
{
    fixture *fx = *state;
    folder f;
    make_folder(fx, &f);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.max_file_bytes = HUGE_BYTES + 1;
    lore_pipeline_open_info info;
    lore_pipeline *p = open_ok(fx->db, &pp, &info);
    assert_false(info.index_loaded);
    assert_true(info.index_rebuilt);
    assert_int_equal(info.n_vectors, 0);
    assert_int_equal(info.n_documents, 0);

    char missing[256];
    path_join(missing, sizeof missing, fx->dir, "no-such-file.txt");
    const char *paths[2] = {f.root, missing};
    int64_t docs0 = lore_counter_read(LORE_COUNTER_INGEST_DOCS);
    int64_t chunks0 = lore_counter_read(LORE_COUNTER_INGEST_CHUNKS);
    int64_t skipped0 = lore_counter_read(LORE_COUNTER_INGEST_SKIPPED);
    lore_ingest_report rep = {0};
    progress_log log = {.monotonic = true};
    lore_status s = lore_pipeline_ingest_paths(p, paths, 2, log_progress, &log, &rep);
    if (s != LORE_OK)
        fail_msg("ingest: %s: %s", lore_strerror(s), lore_last_error());

    /* a b c sub/d bad huge | bin empty big missing */
    assert_int_equal(rep.n_files, 10);
    assert_int_equal(rep.n_added, 6);
    assert_int_equal(rep.n_replaced, 0);
    assert_int_equal(rep.n_unchanged, 0);
    assert_int_equal(rep.n_skipped, 4);
    assert_int_equal(rep.n_invalid_utf8, 2);
    assert_false(rep.cancelled);
    expect_contains(find_skip(&rep, "/bin.dat")->reason, "binary (NUL byte at offset 12)");
    assert_string_equal(find_skip(&rep, "/empty.txt")->reason, "empty");
    expect_contains(find_skip(&rep, "/big.txt")->reason, "too large");
    assert_string_equal(find_skip(&rep, "no-such-file.txt")->reason, strerror(ENOENT));
    assert_int_equal(rep.n_bytes, f.bytes_read);
    assert_int_equal(rep.stage_items[LORE_INGEST_READ], f.bytes_read);
    assert_true(rep.n_chunks > 8000); /* the huge line alone makes ~10k */
    assert_int_equal(rep.stage_items[LORE_INGEST_CHUNK], rep.n_chunks);
    assert_int_equal(rep.stage_items[LORE_INGEST_TOKENIZE], rep.n_chunks);
    assert_int_equal(rep.stage_items[LORE_INGEST_STORE], rep.n_chunks);
    assert_int_equal(rep.stage_items[LORE_INGEST_INDEX], rep.n_chunks);
    /* Identical chunks of the huge line are embedded once per call. */
    assert_true(rep.stage_items[LORE_INGEST_EMBED] >= 1);
    assert_true(rep.stage_items[LORE_INGEST_EMBED] < rep.n_chunks);
    assert_true(rep.n_tokens > 0);
    assert_true(rep.n_transactions >= 2);
    int64_t sum = 0;
    for (int i = 0; i < LORE_INGEST_N_STAGES; i++) {
        assert_true(rep.stage_ns[i] >= 0);
        sum += rep.stage_ns[i];
    }
    assert_true(rep.wall_ns > 0 && sum <= rep.wall_ns);
    assert_int_equal(log.calls, rep.n_transactions);
    assert_true(log.monotonic);
    assert_int_equal(log.last_done, 10);
    assert_int_equal(log.last_total, 10);
    assert_int_equal(log.last_chunks, rep.n_chunks);
    assert_int_equal(lore_counter_read(LORE_COUNTER_INGEST_DOCS) - docs0, 6);
    assert_int_equal(lore_counter_read(LORE_COUNTER_INGEST_CHUNKS) - chunks0, rep.n_chunks);
    assert_int_equal(lore_counter_read(LORE_COUNTER_INGEST_SKIPPED) - skipped0, 4);

    lore_store_info si = store_info(p);
    assert_int_equal(si.n_documents, 6);
    assert_int_equal(si.n_chunks, rep.n_chunks);
    assert_int_equal(si.n_embeddings, rep.n_chunks);
    expect_index_matches_store(p);
    db_check_whole(fx->db);
    assert_int_equal(lore_store_verify(lore_pipeline_store(p), true), LORE_OK);

    /* Every valid document: stored chunks are the source's bytes; queries find them. */
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    int64_t queries0 = lore_counter_read(LORE_COUNTER_QUERIES);
    for (int i = 0; i < N_VALID; i++) {
        char key[256];
        path_join(key, sizeof key, f.root, VALID_NAMES[i]);
        db_check_offsets(fx->db, key, f.valid[i], strlen(f.valid[i]));
        expect_top(p, key, f.valid[i], 1, &q, &res);
        assert_false(res.embed_cached); /* ingest does not fill the query cache */
        expect_top(p, key, f.valid[i], 1, &q, &res);
        assert_true(res.embed_cached); /* the first query did */
        for (int j = 0; j < LORE_QUERY_N_STAGES; j++)
            assert_true(res.stage_ns[j] >= 0);
        assert_int_equal(res.stage_ns[LORE_QUERY_VERIFY], 0);
    }
    assert_int_equal(lore_counter_read(LORE_COUNTER_QUERIES) - queries0, 2 * N_VALID);

    /* bad.txt: offsets are the source's; the stored text has U+FFFD for each bad sequence. */
    {
        char key[256];
        path_join(key, sizeof key, f.root, "bad.txt");
        sqlite3 *db = db_open(fx->db);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT c.byte_begin, c.byte_end, c.text FROM chunks "
                                            "c JOIN documents d ON d.id = c.doc_id WHERE d.path "
                                            "= ?1 ORDER BY c.ordinal",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        int n_fffd = 0, rows = 0;
        size_t covered_end = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t b = sqlite3_column_int64(st, 0), e = sqlite3_column_int64(st, 1);
            const char *t = (const char *)sqlite3_column_text(st, 2);
            bool has_bad = (b <= BAD_OFF1 && BAD_OFF1 < e) || (b <= 201 && 201 < e);
            const char *hit = strstr(t, "\xef\xbf\xbd");
            assert_true(has_bad == (hit != NULL));
            for (const char *x = t; (x = strstr(x, "\xef\xbf\xbd")) != NULL; x += 3)
                n_fffd++;
            if (!has_bad) {
                assert_int_equal(strlen(t), (size_t)(e - b));
                assert_memory_equal(t, f.bad + b, (size_t)(e - b));
            }
            covered_end = (size_t)e;
            rows++;
        }
        assert_true(rows >= 2);
        assert_true(n_fffd >= 2); /* overlapping chunks may repeat one */
        assert_true(covered_end + 1 >= f.bad_len);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }

    /* Re-ingest unchanged: nothing written. */
    lore_store_reset_stats(lore_pipeline_store(p));
    progress_log log2 = {.monotonic = true};
    assert_int_equal(lore_pipeline_ingest_paths(p, paths, 2, log_progress, &log2, &rep), LORE_OK);
    assert_int_equal(log2.calls, 1); /* no commit: one report at the end */
    assert_int_equal(log2.last_done, 10);
    assert_int_equal(rep.n_unchanged, 6);
    assert_int_equal(rep.n_added + rep.n_replaced, 0);
    assert_int_equal(rep.n_skipped, 4);
    assert_int_equal(rep.n_transactions, 0);
    lore_store_stats ss;
    lore_store_get_stats(lore_pipeline_store(p), &ss);
    assert_int_equal(ss.n_rows_written, 0);
    assert_int_equal(ss.n_transactions, 0);

    /* Change a.txt: its chunks are replaced, the index drops the old ids. */
    char key_a[256];
    path_join(key_a, sizeof key_a, f.root, "a.txt");
    int64_t old_id = expect_top(p, key_a, f.valid[0], 0, &q, &res);
    free(f.valid[0]);
    f.valid[0] = make_text(555, 70);
    write_bytes(key_a, f.valid[0], strlen(f.valid[0]));
    assert_int_equal(lore_pipeline_ingest_paths(p, paths, 2, NULL, NULL, &rep), LORE_OK);
    assert_int_equal(rep.n_replaced, 1);
    assert_int_equal(rep.n_unchanged, 5);
    assert_int_equal(rep.n_added, 0);
    expect_index_matches_store(p);
    lore_chunk_buf cb = {0};
    assert_int_equal(lore_store_get_chunks(lore_pipeline_store(p), &old_id, 1, &cb), LORE_OK);
    assert_false(cb.rows[0].found);
    lore_chunk_buf_free(&cb);
    expect_top(p, key_a, f.valid[0], 0, &q, &res);
    for (size_t i = 0; i < res.n_hits; i++)
        assert_true(res.hits[i].chunk_id != old_id);
    db_check_offsets(fx->db, key_a, f.valid[0], strlen(f.valid[0]));
    db_check_whole(fx->db);

    /* Reopen: the snapshot is current, so nothing is rebuilt or embedded. */
    char key_c[256];
    path_join(key_c, sizeof key_c, f.root, "c.txt");
    lore_query_params q5 = qparams(5);
    query_ok(p, "the quick brown fox", &q5, &res);
    size_t n_before = res.n_hits;
    int64_t ids_before[5];
    float scores_before[5];
    for (size_t i = 0; i < n_before; i++) {
        ids_before[i] = res.hits[i].chunk_id;
        scores_before[i] = res.hits[i].score;
    }
    lore_pipeline_close(p);
    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded);
    assert_false(info.index_rebuilt);
    assert_int_equal(info.n_vectors, store_info(p).n_embeddings);
    expect_index_matches_store(p);
    lore_encoder_stats es;
    lore_embedder_get_stats(lore_pipeline_embedder(p), &es);
    assert_int_equal(es.n_encoded, 0);
    query_ok(p, "the quick brown fox", &q5, &res);
    assert_false(res.embed_cached);
    assert_int_equal(res.n_hits, n_before);
    for (size_t i = 0; i < n_before; i++) {
        assert_int_equal(res.hits[i].chunk_id, ids_before[i]);
        assert_double_equal(res.hits[i].score, scores_before[i], 1e-5);
    }
    expect_top(p, key_c, f.valid[2], 0, &q, &res);

    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    lore_pipeline_close(p);
    free_folder(&f);
}

/* ---- the three index kinds ------------------------------------------------------------------ */

#define N_DOCS 16

typedef struct corpus {
    char *text[N_DOCS * 2];
    char path[N_DOCS * 2][32];
    lore_doc_text docs[N_DOCS * 2];
} corpus;

static void make_corpus(corpus *c, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        c->text[i] = make_text(seed + i, 50 + (i % 5) * 8);
        snprintf(c->path[i], sizeof c->path[i], "mem/doc%03zu.txt", i);
        c->docs[i] = (lore_doc_text){c->path[i], c->text[i], strlen(c->text[i]), (int64_t)i};
    }
}

static void free_corpus(corpus *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c->text[i]);
}

static void run_kind(const fixture *fx, lore_index_kind kind)
{
    corpus c;
    make_corpus(&c, N_DOCS, 1000);
    lore_pipeline_params pp = base_params(kind);
    lore_pipeline_open_info info;
    lore_pipeline *p = open_ok(fx->db, &pp, &info);
    lore_ingest_report rep = {0};
    ingest_texts_ok(p, c.docs, N_DOCS, &rep);
    assert_int_equal(rep.n_added, N_DOCS);
    assert_int_equal(rep.stage_ns[LORE_INGEST_READ], 0);
    assert_int_equal(rep.n_files, N_DOCS);
    expect_index_matches_store(p);
    assert_int_equal(lore_index_params_of(lore_pipeline_index(p))->kind, kind);
    lore_query_params q = qparams(4);
    lore_query_result res = {0};
    int64_t ids[N_DOCS];
    for (size_t i = 0; i < N_DOCS; i++)
        ids[i] = expect_top(p, c.path[i], c.text[i], i % 2, &q, &res);
    lore_pipeline_close(p);

    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded);
    assert_int_equal(info.n_vectors, rep.n_chunks);
    for (size_t i = 0; i < N_DOCS; i++)
        assert_int_equal(expect_top(p, c.path[i], c.text[i], i % 2, &q, &res), ids[i]);
    lore_pipeline_close(p);

    /* Another kind over the same store: its own snapshot, built from the stored vectors. */
    lore_pipeline_params other =
        base_params(kind == LORE_INDEX_FLAT ? LORE_INDEX_HNSW : LORE_INDEX_FLAT);
    p = open_ok(fx->db, &other, &info);
    assert_true(info.index_rebuilt);
    assert_int_equal(info.n_vectors, rep.n_chunks);
    lore_encoder_stats es;
    lore_embedder_get_stats(lore_pipeline_embedder(p), &es);
    assert_int_equal(es.n_encoded, 0);
    for (size_t i = 0; i < N_DOCS; i += 3)
        assert_int_equal(expect_top(p, c.path[i], c.text[i], i % 2, &q, &res), ids[i]);
    lore_pipeline_close(p);

    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c, N_DOCS);
}

static void test_kind_flat(void **state)
{
    run_kind(*state, LORE_INDEX_FLAT);
}

static void test_kind_ivf(void **state)
{
    run_kind(*state, LORE_INDEX_IVF);
}

static void test_kind_hnsw(void **state)
{
    run_kind(*state, LORE_INDEX_HNSW);
}

/* IVF with fewer vectors than lists: documents are stored, queries say why they cannot run. */
static void test_ivf_untrained(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, N_DOCS * 2, 2000);
    lore_pipeline_params pp = base_params(LORE_INDEX_IVF);
    pp.index.n_lists = 40;
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    lore_ingest_report rep = {0};
    ingest_texts_ok(p, c.docs, 8, &rep);
    assert_true(rep.n_chunks < 40);
    assert_false(lore_index_is_trained(lore_pipeline_index(p)));
    lore_query_result res = {0};
    lore_query_params q = qparams(3);
    q.search.n_probes = 40;
    assert_int_equal(lore_pipeline_query(p, "hello", 5, &q, &res), LORE_ESTATE);
    expect_contains(lore_last_error(), "not trained");
    expect_contains(lore_last_error(), "n_lists 40");
    assert_int_equal(res.n_hits, 0);
    lore_pipeline_close(p);

    p = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p, c.docs, N_DOCS * 2, &rep);
    assert_int_equal(rep.n_unchanged, 8);
    assert_true(lore_index_is_trained(lore_pipeline_index(p)));
    expect_index_matches_store(p);
    for (size_t i = 0; i < N_DOCS * 2; i += 5)
        expect_top(p, c.path[i], c.text[i], 0, &q, &res);
    lore_pipeline_close(p);
    lore_pipeline_open_info info;
    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded);
    expect_top(p, c.path[3], c.text[3], 1, &q, &res);
    lore_pipeline_close(p);
    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c, N_DOCS * 2);
}

/* ---- stale snapshots --------------------------------------------------------------------------
 */

static void test_stale_snapshot_rebuilt(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, N_DOCS + 1, 3000);
    lore_pipeline_params pp = base_params(LORE_INDEX_HNSW);
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    lore_ingest_report rep = {0};
    ingest_texts_ok(p, c.docs, N_DOCS, &rep);
    lore_query_params q = qparams(4);
    lore_query_result res = {0};
    int64_t id0 = expect_top(p, c.path[0], c.text[0], 0, &q, &res);
    lore_pipeline_close(p);

    /* Another writer adds a document straight through the store: the snapshot is stale. */
    lore_encoder_params ep = lore_embedder_default_params();
    ep.model_dir = TINY;
    lore_embedder *e = NULL;
    assert_int_equal(lore_embedder_new(&ep, &e), LORE_OK);
    lore_store *st = NULL;
    assert_int_equal(lore_store_open(fx->db, NULL, &st), LORE_OK);
    const char *extra = c.text[N_DOCS];
    lore_chunk_list l = split(extra, strlen(extra));
    lore_chunk_row rows[64];
    const char *texts[64];
    size_t lens[64];
    assert_true(l.n <= 64);
    for (size_t i = 0; i < l.n; i++) {
        rows[i] = (lore_chunk_row){(int32_t)i, (int64_t)l.items[i].begin, (int64_t)l.items[i].end,
                                   extra + l.items[i].begin, l.items[i].end - l.items[i].begin};
        texts[i] = rows[i].text;
        lens[i] = rows[i].text_len;
    }
    int dim = lore_embedder_dim(e);
    float *vec = malloc(l.n * (size_t)dim * sizeof *vec);
    assert_non_null(vec);
    assert_int_equal(lore_embedder_embed_batch(e, texts, lens, l.n, vec), LORE_OK);
    lore_doc_info di = {.path = c.path[N_DOCS], .size_bytes = (int64_t)strlen(extra)};
    assert_int_equal(lore_store_put_document(st, &di, rows, l.n, TIER, dim, vec, NULL, NULL, NULL),
                     LORE_OK);
    lore_store_close(st);
    lore_embedder_free(e);
    free(vec);
    lore_chunk_list_free(&l);

    lore_pipeline_open_info info;
    p = open_ok(fx->db, &pp, &info);
    assert_false(info.index_loaded);
    assert_true(info.index_rebuilt);
    expect_index_matches_store(p);
    lore_encoder_stats es;
    lore_embedder_get_stats(lore_pipeline_embedder(p), &es);
    assert_int_equal(es.n_encoded, 0);
    assert_int_equal(expect_top(p, c.path[0], c.text[0], 0, &q, &res), id0);
    expect_top(p, c.path[N_DOCS], c.text[N_DOCS], 0, &q, &res);
    lore_pipeline_close(p);
    /* The rebuild was saved: the next open loads it. */
    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded);
    lore_pipeline_close(p);

    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c, N_DOCS + 1);
}

/* Two pipelines write the same store: each notices the other's commits and rebuilds. */
static void test_two_writers(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, 8, 3500);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p1 = open_ok(fx->db, &pp, NULL);
    lore_pipeline *p2 = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p1, c.docs, 2, NULL);
    ingest_texts_ok(p2, c.docs + 2, 3, NULL);
    ingest_texts_ok(p1, c.docs + 5, 3, NULL);
    expect_index_matches_store(p1);
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    expect_top(p1, c.path[3], c.text[3], 0, &q, &res); /* written by p2 */
    lore_pipeline_close(p2);
    lore_pipeline_close(p1);
    lore_pipeline_open_info info;
    lore_pipeline *p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded); /* p1 saved last, and its snapshot is current */
    expect_index_matches_store(p);
    for (size_t i = 0; i < 8; i++)
        expect_top(p, c.path[i], c.text[i], 0, &q, &res);
    lore_pipeline_close(p);
    lore_query_result_free(&res);
    free_corpus(&c, 8);
}

/*
 * A crash between the last commit and the snapshot: the child kills itself in the progress
 * callback of the last commit, after telling the parent through the pipe.
 */
static bool die_when_done(void *ctx, const lore_ingest_progress *pr)
{
    if (pr->n_done == pr->n_total) {
        ssize_t w = write(*(int *)ctx, "d", 1);
        (void)w;
        raise(SIGKILL);
    }
    return true;
}

static void test_crash_before_snapshot(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, N_DOCS, 4000);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p, c.docs, 4, NULL);
    lore_pipeline_close(p);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        lore_pipeline *cp = NULL;
        if (lore_pipeline_open(fx->db, &pp, &cp, NULL) != LORE_OK) {
            fprintf(stderr, "child: open: %s\n", lore_last_error());
            _exit(1);
        }
        if (lore_pipeline_ingest_texts(cp, c.docs, N_DOCS, die_when_done, &fds[1], NULL) != LORE_OK)
            fprintf(stderr, "child: ingest: %s\n", lore_last_error());
        _exit(2);
    }
    close(fds[1]);
    char b = 0;
    assert_int_equal(read(fds[0], &b, 1), 1);
    assert_int_equal(b, 'd');
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    db_check_whole(fx->db);
    lore_pipeline_open_info info;
    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_rebuilt);
    assert_int_equal(info.n_documents, N_DOCS);
    expect_index_matches_store(p);
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    for (size_t i = 0; i < N_DOCS; i += 3)
        expect_top(p, c.path[i], c.text[i], 0, &q, &res);
    lore_query_result_free(&res);
    lore_pipeline_close(p);
    free_corpus(&c, N_DOCS);
}

/* ---- NLI ----------------------------------------------------------------------------------------
 */

static void test_nli_verify_and_rerank(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, N_DOCS, 5000);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p, c.docs, N_DOCS, NULL);
    lore_query_result res = {0};
    lore_query_params q = qparams(3);
    q.rerank = LORE_RERANK_VERIFY;
    assert_int_equal(lore_pipeline_query(p, "a dog", 5, &q, &res), LORE_ESTATE);
    expect_contains(lore_last_error(), "NLI model");
    assert_null(lore_pipeline_nli(p));
    lore_pipeline_close(p);

    pp.nli = true;
    p = open_ok(fx->db, &pp, NULL);
    lore_nli *m = lore_pipeline_nli(p);
    assert_non_null(m);
    int ie = -1;
    for (int i = 0; i < lore_nli_n_labels(m); i++)
        if (strcmp(lore_nli_label(m, i), "entailment") == 0)
            ie = i;
    assert_true(ie >= 0);
    const char *query = "the dog is sleeping inside the house";
    const int k = 4, depth = 10;

    /* The candidates in vector order, and their probabilities computed apart. */
    lore_query_params qn = qparams(depth);
    query_ok(p, query, &qn, &res);
    assert_int_equal(res.n_hits, (size_t)depth);
    int64_t cand[10];
    float probs[10 * 3];
    const char *prem[10], *hyp[10];
    char *keep[10];
    for (int i = 0; i < depth; i++) {
        cand[i] = res.hits[i].chunk_id;
        assert_false(res.hits[i].verified);
        keep[i] = strdup(res.hits[i].text);
        prem[i] = keep[i];
        hyp[i] = query;
    }
    assert_int_equal(lore_nli_n_labels(m), 3);
    assert_int_equal(lore_nli_classify_batch(m, prem, NULL, hyp, NULL, (size_t)depth, probs),
                     LORE_OK);

    q = qparams(k);
    q.rerank = LORE_RERANK_VERIFY;
    q.rerank_depth = depth;
    query_ok(p, query, &q, &res);
    assert_int_equal(res.n_hits, (size_t)k);
    assert_true(res.stage_ns[LORE_QUERY_VERIFY] > 0);
    for (int i = 0; i < k; i++) {
        const lore_hit *h = &res.hits[i];
        assert_int_equal(h->chunk_id, cand[i]);
        assert_true(h->verified);
        assert_double_equal(h->entailment, probs[i * 3 + ie], 1e-5);
        assert_double_equal(h->entailment + h->neutral + h->contradiction, 1.0, 1e-5);
    }

    q.rerank = LORE_RERANK_NLI;
    query_ok(p, query, &q, &res);
    assert_int_equal(res.n_hits, (size_t)k);
    /* Expected: the depth candidates sorted by entailment (stable), first k. */
    int order[10];
    for (int i = 0; i < depth; i++)
        order[i] = i;
    for (int i = 1; i < depth; i++)
        for (int j = i; j > 0 && probs[order[j - 1] * 3 + ie] < probs[order[j] * 3 + ie]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    bool moved = false;
    for (int i = 0; i < k; i++) {
        const lore_hit *h = &res.hits[i];
        assert_true(h->verified);
        assert_int_equal(h->chunk_id, cand[order[i]]);
        assert_double_equal(h->entailment, probs[order[i] * 3 + ie], 1e-5);
        if (i > 0)
            assert_true(res.hits[i - 1].entailment >= h->entailment);
        moved |= order[i] != i;
    }
    assert_true(moved); /* these texts do re-order: the test sees NLI at work */

    q.rerank_depth = 2;
    q.k = 3;
    assert_int_equal(lore_pipeline_query(p, query, strlen(query), &q, &res), LORE_EINVAL);
    for (int i = 0; i < depth; i++)
        free(keep[i]);
    lore_query_result_free(&res);
    lore_pipeline_close(p);
    free_corpus(&c, N_DOCS);
}

/* ---- transactions ------------------------------------------------------------------------------
 */

/* The stored rows in a canonical order as bytes, vectors apart (*vecs, *n_vec floats). */
static char *dump_db(const char *path, size_t *len, float **vecs, size_t *n_vec)
{
    sqlite3 *db = db_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT d.path, d.hash, d.n_chunks, c.ordinal, "
                                        "c.byte_begin, c.byte_end, c.text, e.dim, e.vector "
                                        "FROM documents d JOIN chunks c ON c.doc_id = d.id "
                                        "JOIN embeddings e ON e.chunk_id = c.id "
                                        "ORDER BY d.path, c.ordinal",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t vcap = 1024, nv = 0;
    float *v = malloc(vcap * sizeof *v);
    assert_non_null(v);
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t vb = (size_t)sqlite3_column_bytes(st, 8);
        while (nv + vb / sizeof *v > vcap) {
            vcap *= 2;
            v = realloc(v, vcap * sizeof *v);
            assert_non_null(v);
        }
        memcpy(v + nv, sqlite3_column_blob(st, 8), vb);
        nv += vb / sizeof *v;
        for (int col = 0; col < 8; col++) {
            const void *b = sqlite3_column_blob(st, col);
            size_t k = (size_t)sqlite3_column_bytes(st, col);
            while (n + k + 2 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            if (k)
                memcpy(out + n, b, k);
            n += k;
            out[n++] = '|';
        }
    }
    out[n] = '\0';
    *len = n;
    *vecs = v;
    *n_vec = nv;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void test_rows_per_txn_same_content(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, 10, 6000);
    char db1[160], db0[160];
    path_join(db1, sizeof db1, fx->dir, "one.db");
    path_join(db0, sizeof db0, fx->dir, "all.db");
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_ingest_report rep = {0};

    pp.rows_per_txn = 1;
    lore_pipeline *p = open_ok(db1, &pp, NULL);
    progress_log log1 = {.monotonic = true};
    assert_int_equal(lore_pipeline_ingest_texts(p, c.docs, 10, log_progress, &log1, &rep), LORE_OK);
    assert_int_equal(rep.n_transactions, 10);
    assert_int_equal(log1.calls, 10);
    assert_true(log1.monotonic);
    int64_t chunks1 = rep.n_chunks;
    lore_pipeline_close(p);

    pp.rows_per_txn = 0;
    pp.embed_batch = 1000;
    p = open_ok(db0, &pp, NULL);
    progress_log log0 = {.monotonic = true};
    assert_int_equal(lore_pipeline_ingest_texts(p, c.docs, 10, log_progress, &log0, &rep), LORE_OK);
    assert_int_equal(rep.n_transactions, 1);
    assert_int_equal(log0.calls, 1);
    assert_int_equal(log0.last_done, 10);
    assert_int_equal(rep.n_chunks, chunks1);
    lore_pipeline_close(p);

    size_t na = 0, nb = 0, nva = 0, nvb = 0;
    float *va, *vb;
    char *a = dump_db(db1, &na, &va, &nva), *b = dump_db(db0, &nb, &vb, &nvb);
    assert_true(na > (size_t)chunks1 * 40);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    /* Batches of other sizes may round differently in the last bits. */
    assert_int_equal(nva, (size_t)chunks1 * 32);
    assert_int_equal(nva, nvb);
    for (size_t i = 0; i < nva; i++)
        assert_double_equal(va[i], vb[i], 1e-5);
    free(a);
    free(b);
    free(va);
    free(vb);
    lore_ingest_report_free(&rep);
    free_corpus(&c, 10);
}

static void test_cancel_keeps_committed(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, 12, 7000);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.rows_per_txn = 1;
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    lore_ingest_report rep = {0};
    progress_log log = {.monotonic = true, .stop_after = 3};
    assert_int_equal(lore_pipeline_ingest_texts(p, c.docs, 12, log_progress, &log, &rep), LORE_OK);
    assert_true(rep.cancelled);
    assert_int_equal(log.calls, 3);
    assert_int_equal(rep.n_added, 3);
    assert_int_equal(store_info(p).n_documents, 3);
    expect_index_matches_store(p);
    lore_pipeline_close(p);
    db_check_whole(fx->db);
    lore_ingest_report_free(&rep);
    free_corpus(&c, 12);
}

/* ---- UTF-8 policies and token chunks --------------------------------------------------------- */

static void test_strict_utf8_skips(void **state)
{
    fixture *fx = *state;
    folder f;
    make_folder(fx, &f);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.utf8 = LORE_UTF8_STRICT;
    pp.max_file_bytes = 4096; /* the huge files are skipped too */
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    lore_ingest_report rep = {0};
    const char *paths[1] = {f.root};
    assert_int_equal(lore_pipeline_ingest_paths(p, paths, 1, NULL, NULL, &rep), LORE_OK);
    char want[64];
    snprintf(want, sizeof want, "invalid UTF-8 at byte %d", BAD_OFF1);
    assert_string_equal(find_skip(&rep, "/bad.txt")->reason, want);
    expect_contains(find_skip(&rep, "/huge.txt")->reason, "too large");
    assert_int_equal(rep.n_added, N_VALID);
    assert_int_equal(rep.n_invalid_utf8, 0);
    assert_int_equal(rep.n_skipped, 5); /* bad bin empty huge big */
    lore_pipeline_close(p);
    lore_ingest_report_free(&rep);
    free_folder(&f);
}

static void test_skips_own_database(void **state)
{
    fixture *fx = *state;
    /* The store lives inside the folder being ingested: its files are not documents. */
    char dir[600], db[700], doc[700];
    path_join(dir, sizeof dir, fx->dir, "notes");
    assert_int_equal(mkdir(dir, 0700), 0);
    path_join(db, sizeof db, dir, "notes.db");
    path_join(doc, sizeof doc, dir, "a.txt");
    char *text = make_text(5, 40);
    write_bytes(doc, text, strlen(text));
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p = open_ok(db, &pp, NULL);
    lore_ingest_report rep = {0};
    const char *paths[2] = {dir, db};
    assert_int_equal(lore_pipeline_ingest_paths(p, paths, 2, NULL, NULL, &rep), LORE_OK);
    assert_int_equal(rep.n_added, 1);
    assert_true(rep.n_skipped >= 2); /* notes.db twice, and its -wal/-shm when present */
    for (int64_t i = 0; i < rep.n_skipped; i++) {
        expect_contains(rep.skips[i].path, "notes.db");
        assert_string_equal(rep.skips[i].reason, "the store's own database file");
    }
    lore_pipeline_close(p);
    lore_ingest_report_free(&rep);
    free(text);
}

static void test_token_chunks(void **state)
{
    fixture *fx = *state;
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.chunk.unit = LORE_CHUNK_TOKENS;
    pp.chunk.size = 20;
    pp.chunk.overlap = 4;
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    char *t = make_text(8000, 80);
    size_t n = strlen(t);
    t[50] = (char)0xc3; /* a lead byte without its continuation */
    lore_doc_text d = {"tok.txt", t, n, 0};
    lore_ingest_report rep = {0};
    ingest_texts_ok(p, &d, 1, &rep);
    assert_int_equal(rep.n_added, 1);
    assert_int_equal(rep.n_invalid_utf8, 1);
    assert_true(rep.n_chunks >= 4);
    db_check_whole(fx->db);
    /* Chunks cover the text in order, within its bytes. */
    sqlite3 *db = db_open(fx->db);
    assert_int_equal(db_int(db, "SELECT min(byte_begin) >= 0 AND max(byte_end) <= 100000 FROM "
                                "chunks"),
                     1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM chunks WHERE instr(text, char(65533)) > "
                                "0"),
                     db_int(db, "SELECT count(*) FROM chunks WHERE byte_begin <= 50 AND "
                                "byte_end > 50"));
    sqlite3_close(db);
    lore_pipeline_close(p);
    lore_ingest_report_free(&rep);
    free(t);
}

/* ---- failures ------------------------------------------------------------------------------- */

static void test_bad_params(void **state)
{
    fixture *fx = *state;
    lore_pipeline *p = (lore_pipeline *)fx;
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.rows_per_txn = -1;
    assert_int_equal(lore_pipeline_open(fx->db, &pp, &p, NULL), LORE_EINVAL);
    assert_null(p);
    expect_contains(lore_last_error(), "rows_per_txn");
    pp = base_params(LORE_INDEX_FLAT);
    pp.embed_batch = 0;
    assert_int_equal(lore_pipeline_open(fx->db, &pp, &p, NULL), LORE_EINVAL);
    expect_contains(lore_last_error(), "embed_batch");
    pp = base_params(LORE_INDEX_FLAT);
    pp.chunk.overlap = pp.chunk.size;
    assert_int_equal(lore_pipeline_open(fx->db, &pp, &p, NULL), LORE_EINVAL);
    expect_contains(lore_last_error(), "chunk");
    pp = base_params(LORE_INDEX_FLAT);
    pp.index.M = 0;
    pp.index.kind = LORE_INDEX_HNSW;
    assert_int_equal(lore_pipeline_open(fx->db, &pp, &p, NULL), LORE_EINVAL);
    assert_null(p);

    pp = base_params(LORE_INDEX_FLAT);
    p = open_ok(fx->db, &pp, NULL);
    lore_query_result res = {0};
    lore_query_params q = qparams(0);
    assert_int_equal(lore_pipeline_query(p, "x", 1, &q, &res), LORE_EINVAL);
    expect_contains(lore_last_error(), "k must be");
    /* An empty store answers with no hits. */
    query_ok(p, "hello world", NULL, &res);
    assert_int_equal(res.n_hits, 0);
    lore_doc_text d = {NULL, "text", 4, 0};
    assert_int_equal(lore_pipeline_ingest_texts(p, &d, 1, NULL, NULL, NULL), LORE_EINVAL);
    lore_query_result_free(&res);
    lore_pipeline_close(p);
    lore_pipeline_close(NULL);
    lore_ingest_report_free(NULL);
    lore_query_result_free(NULL);
    assert_string_equal(lore_ingest_stage_name(LORE_INGEST_EMBED), "embed");
    assert_string_equal(lore_ingest_stage_name(LORE_INGEST_N_STAGES), "unknown");
    assert_string_equal(lore_query_stage_name(LORE_QUERY_FETCH), "fetch");
}

static void test_full_disk(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, N_DOCS * 2, 9000);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    pp.store.max_db_bytes = 160 * 1024;
    pp.rows_per_txn = 8;
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p, c.docs, 3, NULL);
    /* Big documents until the cap is hit. */
    enum { N_BIG = 40 };
    char *big[N_BIG];
    char paths[N_BIG][32];
    lore_doc_text docs[N_BIG];
    for (int i = 0; i < N_BIG; i++) {
        big[i] = make_text(20000 + (uint64_t)i, 700);
        snprintf(paths[i], sizeof paths[i], "big/%02d.txt", i);
        docs[i] = (lore_doc_text){paths[i], big[i], strlen(big[i]), 0};
    }
    lore_ingest_report rep = {0};
    lore_status s = lore_pipeline_ingest_texts(p, docs, N_BIG, NULL, NULL, &rep);
    assert_int_equal(s, LORE_EIO);
    expect_contains(lore_last_error(), "full");
    assert_true(rep.n_added >= 1 && rep.n_added < N_BIG);
    assert_int_equal(rep.n_transactions, rep.n_added); /* each big document is its own */
    lore_store_info si = store_info(p);
    assert_int_equal(si.n_documents, 3 + rep.n_added);
    expect_index_matches_store(p);
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    for (size_t i = 0; i < 3; i++)
        expect_top(p, c.path[i], c.text[i], 0, &q, &res);
    expect_top(p, paths[0], big[0], 2, &q, &res); /* committed before the disk filled */
    lore_pipeline_close(p);
    db_check_whole(fx->db);
    p = open_ok(fx->db, &pp, NULL);
    for (size_t i = 0; i < 3; i++)
        expect_top(p, c.path[i], c.text[i], 1, &q, &res);
    assert_int_equal(lore_store_verify(lore_pipeline_store(p), true), LORE_OK);
    lore_pipeline_close(p);
    for (int i = 0; i < N_BIG; i++)
        free(big[i]);
    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c, N_DOCS * 2);
}

static void test_read_only(void **state)
{
    fixture *fx = *state;
    corpus c;
    make_corpus(&c, 6, 10000);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    ingest_texts_ok(p, c.docs, 3, NULL);
    lore_store_info before = store_info(p);
    lore_pipeline_close(p);

    pp.store.read_only = true;
    lore_pipeline_open_info info;
    p = open_ok(fx->db, &pp, &info);
    assert_true(info.index_loaded);
    lore_ingest_report rep = {0};
    assert_int_equal(lore_pipeline_ingest_texts(p, c.docs, 6, NULL, NULL, &rep), LORE_ESTATE);
    expect_contains(lore_last_error(), "read-only");
    assert_int_equal(rep.n_added, 0);
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    expect_top(p, c.path[1], c.text[1], 0, &q, &res);
    lore_pipeline_close(p);

    pp.store.read_only = false;
    p = open_ok(fx->db, &pp, &info);
    lore_store_info after = store_info(p);
    assert_int_equal(after.n_documents, before.n_documents);
    assert_int_equal(after.n_chunks, before.n_chunks);
    assert_int_equal(after.generation, before.generation);
    lore_pipeline_close(p);
    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c, 6);
}

static void test_not_sqlite(void **state)
{
    fixture *fx = *state;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("not a database\n"[i % 15]);
    write_bytes(fx->db, junk, sizeof junk);
    lore_pipeline_params pp = base_params(LORE_INDEX_FLAT);
    lore_pipeline *p = (lore_pipeline *)fx;
    assert_int_equal(lore_pipeline_open(fx->db, &pp, &p, NULL), LORE_ECORRUPT);
    assert_null(p);
    expect_contains(lore_last_error(), fx->db);
    size_t n = 0;
    char *back = read_bytes(fx->db, &n);
    assert_int_equal(n, sizeof junk);
    assert_memory_equal(back, junk, sizeof junk);
    free(back);
}

/* ---- crash safety ---------------------------------------------------------------------------- */

#define CRASH_DOCS 48

static bool signal_progress(void *ctx, const lore_ingest_progress *pr)
{
    (void)pr;
    int fd = *(int *)ctx;
    char b = 'x';
    ssize_t w = write(fd, &b, 1);
    (void)w;
    return true;
}

static void test_crash_safety(void **state)
{
    fixture *fx = *state;
    corpus c[2];
    make_corpus(&c[0], N_DOCS * 2, 11000);
    make_corpus(&c[1], N_DOCS * 2, 12000); /* same paths, new texts: replacements */
    lore_pipeline_params pp = base_params(LORE_INDEX_HNSW);
    pp.rows_per_txn = 3;
    pp.embed_batch = 4;
    /* Kill points: after this many commits, then after a further pause (microseconds). */
    static const int after_commits[] = {1, 2, 4, 7, 3, 9, 5, 12};
    static const int pause_us[] = {0, 300, 0, 1500, 5000, 0, 800, 20000};
    int killed = 0;
    for (int it = 0; it < 8; it++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        const corpus *cc = &c[it % 2];
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            lore_pipeline *cp = NULL;
            if (lore_pipeline_open(fx->db, &pp, &cp, NULL) != LORE_OK)
                _exit(1);
            lore_pipeline_ingest_texts(cp, cc->docs, N_DOCS * 2, signal_progress, &fds[1], NULL);
            lore_pipeline_close(cp);
            _exit(0);
        }
        close(fds[1]);
        int seen = 0;
        char b;
        while (seen < after_commits[it] && read(fds[0], &b, 1) == 1)
            seen++;
        if (pause_us[it])
            usleep((useconds_t)pause_us[it]);
        killed += kill(pid, SIGKILL) == 0;
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(fds[0]);

        db_check_whole(fx->db);
        lore_pipeline_open_info info;
        lore_pipeline *p = open_ok(fx->db, &pp, &info);
        expect_index_matches_store(p);
        assert_int_equal(info.n_vectors, store_info(p).n_embeddings);
        assert_int_equal(lore_store_verify(lore_pipeline_store(p), true), LORE_OK);
        lore_pipeline_close(p);
    }
    assert_true(killed >= 1);
    /* After all that, one clean ingest brings everything to the last version. */
    lore_pipeline *p = open_ok(fx->db, &pp, NULL);
    lore_ingest_report rep = {0};
    ingest_texts_ok(p, c[1].docs, N_DOCS * 2, &rep);
    assert_int_equal(rep.n_added + rep.n_replaced + rep.n_unchanged, N_DOCS * 2);
    lore_query_params q = qparams(3);
    lore_query_result res = {0};
    for (size_t i = 0; i < N_DOCS * 2; i += 7)
        expect_top(p, c[1].path[i], c[1].text[i], 0, &q, &res);
    expect_index_matches_store(p);
    lore_pipeline_close(p);
    lore_query_result_free(&res);
    lore_ingest_report_free(&rep);
    free_corpus(&c[0], N_DOCS * 2);
    free_corpus(&c[1], N_DOCS * 2);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_ivf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_hnsw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ivf_untrained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_snapshot_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nli_verify_and_rerank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_per_txn_same_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_keeps_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_utf8_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skips_own_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
