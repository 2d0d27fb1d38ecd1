/*
 * test_vecdata.c - the search workload's data module: the synthetic generator
 * (determinism, shape, normalisation, cluster structure), .fvecs/.npy round
 * trips and every reader error, exact ground truth against a naive brute force
 * written here, the ground-truth cache (hit, miss, corrupt entries) in a
 * temporary folder, and recall.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "vecdata.h"

static char tmp_dir[] = "/tmp/test_vecdata.XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void in_tmp(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    bench_err e;
    char *s = bench_read_file(path, n, &e);
    if (!s)
        fail_msg("%s", e.msg);
    return (unsigned char *)s;
}

/* The call fails and its message names the file and contains needle. */
static void expect_read_error(const char *path, size_t want_dim, const char *needle)
{
    bench_vecs v;
    bench_err e = {{0}};
    if (bench_vecdata_read(path, 0, 0, want_dim, &v, &e) == 0)
        fail_msg("%s: read succeeded, expected an error containing \"%s\"", path, needle);
    assert_null(v.x);
    if (!strstr(e.msg, path) || !strstr(e.msg, needle))
        fail_msg("message \"%s\" lacks the path or \"%s\"", e.msg, needle);
}

static const bench_vecdata_synth SYNTH = {
    .dim = 24, .n_clusters = 6, .spread = 0.5, .normalize = true, .seed = 42};

static bench_vecs make(const bench_vecdata_synth *p, uint64_t stream, size_t n)
{
    bench_vecs v;
    bench_err e;
    if (bench_vecdata_generate(p, stream, n, &v, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    return v;
}

/* ---- generator ---------------------------------------------------------------- */

static void test_generate_is_deterministic(void **state)
{
    (void)state;
    bench_vecs a = make(&SYNTH, BENCH_VECDATA_STREAM_CORPUS, 200);
    bench_vecs b = make(&SYNTH, BENCH_VECDATA_STREAM_CORPUS, 200);
    bench_vecs prefix = make(&SYNTH, BENCH_VECDATA_STREAM_CORPUS, 37);
    bench_vecs q = make(&SYNTH, BENCH_VECDATA_STREAM_QUERIES, 200);
    bench_vecdata_synth other = SYNTH;
    other.seed = 43;
    bench_vecs c = make(&other, BENCH_VECDATA_STREAM_CORPUS, 200);
    assert_int_equal(a.n, 200);
    assert_int_equal(a.dim, 24);
    assert_memory_equal(a.x, b.x, 200 * 24 * sizeof(float));
    assert_memory_equal(a.x, prefix.x, 37 * 24 * sizeof(float));
    assert_memory_not_equal(a.x, q.x, 24 * sizeof(float));
    assert_memory_not_equal(a.x, c.x, 24 * sizeof(float));
    assert_true(bench_vecdata_hash(&a) == bench_vecdata_hash(&b));
    assert_true(bench_vecdata_hash(&a) != bench_vecdata_hash(&c));
    assert_true(bench_vecdata_hash(&a) != bench_vecdata_hash(&q));
    /* Queries share the corpus's centres: the same distribution, not the same points. */
    float ca[6 * 24], cc[6 * 24];
    assert_int_equal(bench_vecdata_centres(&SYNTH, ca, NULL), 0);
    assert_int_equal(bench_vecdata_centres(&other, cc, NULL), 0);
    assert_memory_not_equal(ca, cc, sizeof ca);
    bench_vecs_free(&a);
    bench_vecs_free(&b);
    bench_vecs_free(&prefix);
    bench_vecs_free(&q);
    bench_vecs_free(&c);
    bench_vecs_free(NULL);
}

static void test_generate_normalisation(void **state)
{
    (void)state;
    bench_vecs a = make(&SYNTH, 0, 300);
    for (size_t i = 0; i < a.n; i++) {
        double ss = 0;
        for (size_t j = 0; j < a.dim; j++)
            ss += (double)a.x[i * a.dim + j] * a.x[i * a.dim + j];
        assert_double_equal(sqrt(ss), 1.0, 1e-5);
    }
    bench_vecs_free(&a);
    /* Unnormalised: |centre + noise|^2 averages 1 + spread^2 (the noise is isotropic). */
    bench_vecdata_synth raw = SYNTH;
    raw.normalize = false;
    raw.spread = 2.0;
    raw.dim = 64;
    bench_vecs b = make(&raw, 0, 2000);
    double mean = 0;
    for (size_t i = 0; i < b.n; i++) {
        double ss = 0;
        for (size_t j = 0; j < b.dim; j++)
            ss += (double)b.x[i * b.dim + j] * b.x[i * b.dim + j];
        mean += ss / (double)b.n;
    }
    assert_double_equal(mean, 1 + 2.0 * 2.0, 0.1);
    bench_vecs_free(&b);
    /* Bad parameters are refused with the field named. */
    bench_vecs v;
    bench_err e;
    bench_vecdata_synth bad = SYNTH;
    bad.n_clusters = 0;
    assert_int_equal(bench_vecdata_generate(&bad, 0, 10, &v, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "clusters"));
    bad = SYNTH;
    bad.spread = -1;
    assert_int_equal(bench_vecdata_generate(&bad, 0, 10, &v, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "spread"));
    bad = SYNTH;
    bad.dim = 0;
    assert_int_equal(bench_vecdata_generate(&bad, 0, 10, &v, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "dim"));
}

static void test_generate_cluster_structure(void **state)
{
    (void)state;
    bench_vecdata_synth p = {
        .dim = 32, .n_clusters = 8, .spread = 0.5, .normalize = true, .seed = 7};
    size_t n = 800;
    uint32_t *cl = malloc(n * sizeof *cl);
    float centres[8 * 32];
    bench_vecs v;
    bench_err e;
    assert_int_equal(bench_vecdata_generate(&p, 0, n, &v, cl, &e), 0);
    assert_int_equal(bench_vecdata_centres(&p, centres, &e), 0);
    size_t count[8] = {0};
    double own_mean = 0, other_mean = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(cl[i] < 8);
        count[cl[i]]++;
        double best = -2;
        size_t arg = 0;
        for (size_t c = 0; c < 8; c++) {
            double d = 0;
            for (size_t j = 0; j < 32; j++)
                d += (double)v.x[i * 32 + j] * centres[c * 32 + j];
            if (d > best)
                best = d, arg = c;
            if (c == cl[i])
                own_mean += d / (double)n;
            else
                other_mean += d / (double)(n * 7);
        }
        /* Noise of norm 0.5 in 32 dimensions never carries a point to another centre. */
        assert_int_equal(arg, cl[i]);
    }
    /* cos(point, own centre) ~ 1 / sqrt(1 + 0.25) = 0.894; other centres ~ 0 on average. */
    assert_double_equal(own_mean, 1 / sqrt(1.25), 0.03);
    assert_double_equal(other_mean, 0, 0.1);
    /* Clusters are chosen uniformly: 100 points each on average. */
    for (size_t c = 0; c < 8; c++)
        assert_true(count[c] > 60 && count[c] < 140);
    free(cl);
    bench_vecs_free(&v);
}

/* ---- files ----------------------------------------------------------------------- */

static void check_round_trip(const char *name)
{
    char path[512];
    in_tmp(path, sizeof path, name);
    bench_vecs a = make(&SYNTH, 0, 50);
    bench_err e;
    if (strstr(name, ".npy"))
        assert_int_equal(bench_vecdata_write_npy(path, &a, &e), 0);
    else
        assert_int_equal(bench_vecdata_write_fvecs(path, &a, &e), 0);
    size_t rows = 0, dim = 0;
    assert_int_equal(bench_vecdata_probe(path, &rows, &dim, &e), 0);
    assert_int_equal(rows, 50);
    assert_int_equal(dim, 24);
    bench_vecs b;
    if (bench_vecdata_read(path, 0, 0, 24, &b, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(b.n, 50);
    assert_int_equal(b.dim, 24);
    assert_memory_equal(a.x, b.x, 50 * 24 * sizeof(float));
    bench_vecs_free(&b);
    /* A window of rows (how held-out queries are read). */
    assert_int_equal(bench_vecdata_read(path, 45, 5, 0, &b, &e), 0);
    assert_int_equal(b.n, 5);
    assert_memory_equal(a.x + 45 * 24, b.x, 5 * 24 * sizeof(float));
    bench_vecs_free(&b);
    assert_int_equal(bench_vecdata_read(path, 10, 0, 0, &b, &e), 0);
    assert_int_equal(b.n, 40);
    bench_vecs_free(&b);
    /* Past the end. */
    assert_int_equal(bench_vecdata_read(path, 45, 6, 0, &b, &e), -1);
    assert_non_null(strstr(e.msg, "holds 50 vectors"));
    assert_int_equal(bench_vecdata_read(path, 50, 0, 0, &b, &e), -1);
    expect_read_error(path, 25, "dimension mismatch");
    bench_vecs_free(&a);
}

static void test_fvecs_round_trip(void **state)
{
    (void)state;
    check_round_trip("rt.fvecs");
}

static void test_npy_round_trip(void **state)
{
    (void)state;
    check_round_trip("rt.npy");
    /* The header is what NumPy writes: version 1.0, data 64-byte aligned, '<f4', C order. */
    char path[512];
    in_tmp(path, sizeof path, "rt.npy");
    size_t n;
    unsigned char *b = slurp(path, &n);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    size_t header = 10 + (size_t)(b[8] | b[9] << 8);
    assert_int_equal(header % 64, 0);
    assert_int_equal(b[header - 1], '\n');
    assert_int_equal(n, header + 50 * 24 * 4);
    assert_non_null(strstr((char *)b + 10, "'shape': (50, 24)"));
    free(b);
}

/* A .npy file with the given header dict (version major) and data bytes. */
static void write_npy(const char *path, int major, const char *dict, size_t data_bytes)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = dl + 1;
    size_t total = pre + hl + data_bytes;
    unsigned char *b = calloc(1, total);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    /* Version 1: a 2-byte header length; 2 and later: 4 bytes. */
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + pre, dict, dl);
    b[pre + dl] = '\n';
    for (size_t i = 0; i < data_bytes / 4; i++) {
        float f = (float)i;
        memcpy(b + pre + hl + 4 * i, &f, 4);
    }
    write_bytes(path, b, total);
    free(b);
}

static void test_npy_versions_and_key_order(void **state)
{
    (void)state;
    char path[512];
    in_tmp(path, sizeof path, "v2.npy");
    /* Version 2.0 (4-byte header length), keys in another order, double quotes. */
    write_npy(path, 2, "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", 24);
    bench_vecs v;
    bench_err e;
    if (bench_vecdata_read(path, 0, 0, 2, &v, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(v.n, 3);
    for (size_t i = 0; i < 6; i++)
        assert_true(v.x[i] == (float)i);
    bench_vecs_free(&v);
}

static void test_reader_errors(void **state)
{
    (void)state;
    char path[512];
    bench_vecs a = make(&SYNTH, 0, 4);
    bench_err e;
    size_t n;

    /* .fvecs: truncated, absurd dimension, records of differing dimensions, empty, NaN. */
    in_tmp(path, sizeof path, "trunc.fvecs");
    assert_int_equal(bench_vecdata_write_fvecs(path, &a, &e), 0);
    unsigned char *b = slurp(path, &n);
    write_bytes(path, b, n - 3);
    expect_read_error(path, 0, "truncated");
    in_tmp(path, sizeof path, "absurd.fvecs");
    unsigned char big[8] = {0x00, 0x00, 0x10, 0x00, 0, 0, 0, 0}; /* dim 1048576 */
    write_bytes(path, big, sizeof big);
    expect_read_error(path, 0, "outside 1..65536");
    in_tmp(path, sizeof path, "neg.fvecs");
    unsigned char neg[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    write_bytes(path, neg, sizeof neg);
    expect_read_error(path, 0, "dimension -1");
    in_tmp(path, sizeof path, "mixed.fvecs");
    b[2 * (4 + 24 * 4)] = 23; /* record 2 claims 23 floats; the size still fits 24 */
    write_bytes(path, b, n);
    expect_read_error(path, 0, "record 2 has dimension 23");
    b[2 * (4 + 24 * 4)] = 24;
    in_tmp(path, sizeof path, "nan.fvecs");
    float nan = NAN;
    memcpy(b + 4 + 4 * 5, &nan, 4);
    write_bytes(path, b, n);
    expect_read_error(path, 0, "vector 0 component 5 is not finite");
    free(b);
    in_tmp(path, sizeof path, "empty.fvecs");
    write_bytes(path, "", 0);
    expect_read_error(path, 0, "empty file");

    /* .npy: magic, dtype, order, rank, size, dimensions, header. */
    in_tmp(path, sizeof path, "magic.npy");
    static const char zip[] = "PK\x03\x04 this is a zip, not an array";
    write_bytes(path, zip, sizeof zip - 1);
    expect_read_error(path, 0, "bad magic");
    in_tmp(path, sizeof path, "f8.npy");
    write_npy(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48);
    expect_read_error(path, 0, "dtype '<f8' is not supported");
    in_tmp(path, sizeof path, "be.npy");
    write_npy(path, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    expect_read_error(path, 0, "dtype '>f4'");
    in_tmp(path, sizeof path, "fortran.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24);
    expect_read_error(path, 0, "Fortran");
    in_tmp(path, sizeof path, "1d.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24);
    expect_read_error(path, 0, "1 dimension(s)");
    in_tmp(path, sizeof path, "short.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
    expect_read_error(path, 0, "truncated");
    in_tmp(path, sizeof path, "long.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28);
    expect_read_error(path, 0, "4 bytes after the data");
    in_tmp(path, sizeof path, "wide.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 70000), }", 0);
    expect_read_error(path, 0, "dimension 70000 outside");
    in_tmp(path, sizeof path, "huge.npy");
    write_npy(path, 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999, 16), }", 0);
    expect_read_error(path, 0, "absurd shape");
    in_tmp(path, sizeof path, "zero.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 16), }", 0);
    expect_read_error(path, 0, "no vectors");
    in_tmp(path, sizeof path, "garbled.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", 24);
    expect_read_error(path, 0, "fortran_order");
    in_tmp(path, sizeof path, "extra.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24);
    expect_read_error(path, 0, "unknown key 'x'");
    in_tmp(path, sizeof path, "v9.npy");
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    b = slurp(path, &n);
    b[6] = 9;
    write_bytes(path, b, n);
    free(b);
    expect_read_error(path, 0, "version 9.0");
    in_tmp(path, sizeof path, "hdr.npy");
    static const char cut[] = "\x93NUMPY\x01\x00\xff\x00{'descr'";
    write_bytes(path, cut, sizeof cut - 1);
    expect_read_error(path, 0, "truncated");

    /* Names: unknown type, missing file. */
    in_tmp(path, sizeof path, "data.csv");
    write_bytes(path, "1,2\n", 4);
    expect_read_error(path, 0, "unknown vector file type");
    in_tmp(path, sizeof path, "missing.fvecs");
    expect_read_error(path, 0, "cannot open");
    size_t rows, dim;
    assert_int_equal(bench_vecdata_probe(path, &rows, &dim, &e), -1);
    assert_non_null(strstr(e.msg, path));
    bench_vecs_free(&a);
}

/* ---- ground truth ------------------------------------------------------------------- */

typedef struct pair {
    double score;
    int64_t id;
} pair;

/* Every distance in double, kept by insertion into a sorted list of k: the plainest exact
 * answer. Rows come in id order, so a tie never displaces the earlier (lower) id. */
static void naive_topk(const bench_vecs *d, const bench_vecs *q, int k, lore_metric m, int64_t *ids)
{
    pair *best = malloc((size_t)k * sizeof *best);
    for (size_t i = 0; i < q->n; i++) {
        int kept = 0;
        for (size_t j = 0; j < d->n; j++) {
            double s = 0;
            for (size_t c = 0; c < d->dim; c++) {
                double a = q->x[i * q->dim + c], b = d->x[j * d->dim + c];
                s += m == LORE_METRIC_IP ? a * b : -(a - b) * (a - b);
            }
            if (kept == k && s <= best[k - 1].score)
                continue;
            int at = kept < k ? kept++ : k - 1;
            while (at > 0 && best[at - 1].score < s) {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = (pair){s, (int64_t)j};
        }
        for (int c = 0; c < k; c++)
            ids[i * (size_t)k + (size_t)c] = c < kept ? best[c].id : -1;
    }
    free(best);
}

static void check_gt(const bench_vecdata_synth *p, size_t n, size_t nq, int k, lore_metric m)
{
    bench_vecs d = make(p, 0, n), q = make(p, 1, nq);
    int64_t *got = malloc(nq * (size_t)k * sizeof *got);
    int64_t *want = malloc(nq * (size_t)k * sizeof *want);
    bench_err e;
    if (bench_vecdata_gt_compute(&d, &q, k, m, got, &e) != 0)
        fail_msg("%s", e.msg);
    naive_topk(&d, &q, k, m, want);
    for (size_t i = 0; i < nq * (size_t)k; i++)
        if (got[i] != want[i])
            fail_msg("n %zu nq %zu k %d metric %d: query %zu slot %zu: id %lld, naive %lld", n, nq,
                     k, (int)m, i / (size_t)k, i % (size_t)k, (long long)got[i],
                     (long long)want[i]);
    bench_vecs_free(&d);
    bench_vecs_free(&q);
    free(got);
    free(want);
}

static void test_groundtruth_matches_naive(void **state)
{
    (void)state;
    bench_vecdata_synth p = SYNTH;
    p.dim = 17; /* odd, so nothing lines up with a SIMD width */
    check_gt(&p, 301, 23, 7, LORE_METRIC_IP);
    check_gt(&p, 301, 23, 7, LORE_METRIC_L2);
    /* Several data blocks (4096 rows) and query blocks (256 queries). */
    p.dim = 8;
    p.normalize = false;
    check_gt(&p, 5000, 300, 5, LORE_METRIC_L2);
    check_gt(&p, 5000, 300, 5, LORE_METRIC_IP);
    /* k above the data size: the tail is -1. */
    check_gt(&p, 5, 3, 8, LORE_METRIC_L2);
}

static void test_groundtruth_ties_and_near_ties(void **state)
{
    (void)state;
    /* Rows 0..5 hold the same 2 vectors alternately: every query ties in pairs. */
    float x[12] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
    float qx[2] = {0.9f, 0.1f};
    bench_vecs d = {x, 6, 2}, q = {qx, 1, 2};
    int64_t ids[4];
    bench_err e;
    assert_int_equal(bench_vecdata_gt_compute(&d, &q, 4, LORE_METRIC_IP, ids, &e), 0);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 4);
    assert_int_equal(ids[3], 1);
    /* A near tie that float cannot see: q.x0 = 1 and q.x1 = 1 + 1e-8 both round to 1.0f.
     * The double re-rank of the wider candidate set puts row 1 first. */
    float nx[4] = {1, 0, 1, 1}, nq[2] = {1, 1e-8f};
    bench_vecs nd = {nx, 2, 2}, nqv = {nq, 1, 2};
    assert_int_equal(bench_vecdata_gt_compute(&nd, &nqv, 1, LORE_METRIC_IP, ids, &e), 0);
    assert_int_equal(ids[0], 1);
    float qd[2] = {1, 2};
    bench_vecs q3 = {qd, 1, 3};
    assert_int_equal(bench_vecdata_gt_compute(&d, &q3, 4, LORE_METRIC_IP, ids, &e), -1);
    assert_non_null(strstr(e.msg, "bad shapes"));
}

static void test_groundtruth_cache(void **state)
{
    (void)state;
    char dir[512], file[600];
    in_tmp(dir, sizeof dir, "cache/gt");
    bench_vecdata_synth p = SYNTH;
    bench_vecs d = make(&p, 0, 400), q = make(&p, 1, 20);
    int64_t *first = NULL, *second = NULL, *third = NULL, *want = malloc(20 * 10 * 8);
    naive_topk(&d, &q, 10, LORE_METRIC_IP, want);
    bool cached = true;
    bench_err e, warn;

    /* Miss: computed, stored. */
    assert_int_equal(
        bench_vecdata_groundtruth(&d, &q, 10, LORE_METRIC_IP, dir, &first, &cached, &e), 0);
    assert_false(cached);
    assert_memory_equal(first, want, 20 * 10 * 8);
    uint64_t key = bench_vecdata_gt_key(bench_vecdata_hash(&d), 400, bench_vecdata_hash(&q), 20, 24,
                                        10, LORE_METRIC_IP);
    snprintf(file, sizeof file, "%s/%016llx.bin", dir, (unsigned long long)key);
    assert_int_equal(access(file, R_OK), 0);

    /* Hit: the same ids from the file. */
    assert_int_equal(
        bench_vecdata_groundtruth(&d, &q, 10, LORE_METRIC_IP, dir, &second, &cached, &e), 0);
    assert_true(cached);
    assert_memory_equal(second, want, 20 * 10 * 8);
    free(second);

    /* Another k or metric is another key: a miss, not a wrong answer. */
    assert_true(bench_vecdata_gt_key(1, 400, 2, 20, 24, 10, LORE_METRIC_IP) !=
                bench_vecdata_gt_key(1, 400, 2, 20, 24, 9, LORE_METRIC_IP));
    assert_true(bench_vecdata_gt_key(1, 400, 2, 20, 24, 10, LORE_METRIC_IP) !=
                bench_vecdata_gt_key(1, 400, 2, 20, 24, 10, LORE_METRIC_L2));
    assert_int_equal(
        bench_vecdata_groundtruth(&d, &q, 10, LORE_METRIC_L2, dir, &second, &cached, &e), 0);
    assert_false(cached);
    free(second);

    /* A file under the key that describes another computation is not trusted. */
    assert_int_equal(
        bench_vecdata_gt_load(dir, key, 400, 20, 24, 9, LORE_METRIC_IP, &second, &warn, &e), 0);
    assert_null(second);
    assert_non_null(strstr(warn.msg, file));
    assert_int_equal(
        bench_vecdata_gt_load(dir, key, 400, 20, 24, 10, LORE_METRIC_L2, &second, &warn, &e), 0);
    assert_non_null(strstr(warn.msg, "another computation"));

    /* A missing key: a miss with no warning. */
    assert_int_equal(
        bench_vecdata_gt_load(dir, key ^ 1, 400, 20, 24, 10, LORE_METRIC_IP, &second, &warn, &e),
        0);
    assert_string_equal(warn.msg, "");

    /* Corruptions: flipped id byte (checksum), truncation, bad magic, ids out of range
     * with a valid checksum. Each is a miss with a warning naming the file, and the
     * full call rebuilds a valid entry. */
    size_t n;
    unsigned char *good = slurp(file, &n);
    assert_int_equal(n, 48 + 20 * 10 * 8 + 8);
    unsigned char *bad = malloc(n);
    static const char *const needles[] = {"checksum", "truncated", "bad magic", "out of range"};
    for (int c = 0; c < 4; c++) {
        memcpy(bad, good, n);
        size_t len = n;
        if (c == 0)
            bad[48 + 13] ^= 0x40;
        else if (c == 1)
            len = n - 9;
        else if (c == 2)
            bad[0] = 'X';
        if (c == 3) {
            bad[48] = 0xf0; /* id 240 of a 400-vector corpus is fine; make it huge */
            bad[48 + 5] = 0x7f;
            uint64_t h = bench_fnv1a64(bad, n - 8);
            for (int i = 0; i < 8; i++)
                bad[n - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
        }
        write_bytes(file, bad, len);
        assert_int_equal(
            bench_vecdata_gt_load(dir, key, 400, 20, 24, 10, LORE_METRIC_IP, &second, &warn, &e),
            0);
        assert_null(second);
        if (!strstr(warn.msg, file) || !strstr(warn.msg, needles[c]))
            fail_msg("corruption %d: warning \"%s\" lacks the file or \"%s\"", c, warn.msg,
                     needles[c]);
        assert_int_equal(
            bench_vecdata_groundtruth(&d, &q, 10, LORE_METRIC_IP, dir, &third, &cached, &e), 0);
        assert_false(cached);
        assert_memory_equal(third, want, 20 * 10 * 8);
        free(third);
        size_t m;
        unsigned char *rebuilt = slurp(file, &m);
        assert_int_equal(m, n);
        assert_memory_equal(rebuilt, good, n);
        free(rebuilt);
    }
    free(bad);
    free(good);

    /* A cache folder that cannot be created: still an answer (with a warning). */
    char blocked[600];
    in_tmp(blocked, sizeof blocked, "plainfile");
    write_bytes(blocked, "x", 1);
    strcat(blocked, "/gt");
    assert_int_equal(
        bench_vecdata_groundtruth(&d, &q, 10, LORE_METRIC_IP, blocked, &third, &cached, &e), 0);
    assert_false(cached);
    assert_memory_equal(third, want, 20 * 10 * 8);
    free(third);

    free(first);
    free(want);
    bench_vecs_free(&d);
    bench_vecs_free(&q);
}

/* ---- recall -------------------------------------------------------------------------- */

static void test_recall(void **state)
{
    (void)state;
    double r;
    bench_err e;
    const int64_t truth[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* Order does not matter; all found. */
    const int64_t perm[8] = {4, 3, 2, 1, 8, 7, 6, 5};
    assert_int_equal(bench_vecdata_recall(perm, truth, 2, 4, &r, &e), 0);
    assert_double_equal(r, 1.0, 0);
    /* Query 0 finds 2 of 4, query 1 finds 1 of 4 (-1 slots never match). */
    const int64_t half[8] = {1, 9, 3, 10, 5, -1, -1, -1};
    assert_int_equal(bench_vecdata_recall(half, truth, 2, 4, &r, &e), 0);
    assert_double_equal(r, (0.5 + 0.25) / 2, 1e-12);
    /* A duplicate found id counts once. */
    const int64_t dup[4] = {1, 1, 1, 1};
    assert_int_equal(bench_vecdata_recall(dup, truth, 1, 4, &r, &e), 0);
    assert_double_equal(r, 0.25, 1e-12);
    /* Truth shorter than k (k > vectors): the denominator is what exists. */
    const int64_t short_truth[4] = {7, 3, -1, -1};
    const int64_t found[4] = {3, 7, -1, -1};
    assert_int_equal(bench_vecdata_recall(found, short_truth, 1, 4, &r, &e), 0);
    assert_double_equal(r, 1.0, 0);
    assert_int_equal(bench_vecdata_recall(found, short_truth, 0, 4, &r, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_is_deterministic),
        cmocka_unit_test(test_generate_normalisation),
        cmocka_unit_test(test_generate_cluster_structure),
        cmocka_unit_test(test_fvecs_round_trip),
        cmocka_unit_test(test_npy_round_trip),
        cmocka_unit_test(test_npy_versions_and_key_order),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_groundtruth_matches_naive),
        cmocka_unit_test(test_groundtruth_ties_and_near_ties),
        cmocka_unit_test(test_groundtruth_cache),
        cmocka_unit_test(test_recall),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
