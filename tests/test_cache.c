/*
 * test_cache.c - the embedding cache: scripted LRU sequences, thousands of
 * random operations against an array-based reference LRU at several
 * capacities, refresh on put, stats and counters, key hashing, bytes
 * accounting and invalid capacities.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lore_int.h"
#include "model/cache.h"

/* ---- helpers ----------------------------------------------------------------------------------
 */

/* A vector that encodes (key, version) so a wrong slot or a stale copy shows. */
static void make_vec(float *v, size_t dim, uint64_t key, int version)
{
    for (size_t i = 0; i < dim; i++)
        v[i] = (float)(key % 1000) * 1000.0f + (float)version + (float)i * 0.25f;
}

static void assert_vec(const float *got, size_t dim, uint64_t key, int version)
{
    float want[64];
    assert_true(dim <= 64);
    make_vec(want, dim, key, version);
    for (size_t i = 0; i < dim; i++)
        if (got[i] != want[i])
            fail_msg("key %llu: element %zu is %g, expected %g (version %d)",
                     (unsigned long long)key, i, (double)got[i], (double)want[i], version);
}

static lore__cache *new_cache_entries(size_t n_entries, size_t slack_bytes, size_t dim)
{
    lore__cache *c = NULL;
    size_t cap = n_entries * lore__cache_entry_bytes(dim) + slack_bytes;
    assert_int_equal(lore__cache_new(cap, dim, &c), LORE_OK);
    assert_non_null(c);
    lore__cache_stats s;
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.max_entries, n_entries);
    assert_int_equal(s.capacity_bytes, cap);
    return c;
}

/* ---- reference model: an array LRU, index 0 most recent ----------------------------------------
 */

typedef struct ref_lru {
    size_t cap, n;
    uint64_t keys[128];
    int versions[128];
    int64_t hits, misses, evictions;
} ref_lru;

static int ref_find(const ref_lru *r, uint64_t key)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->keys[i] == key)
            return (int)i;
    return -1;
}

/* Moves position i to the front. */
static void ref_touch(ref_lru *r, int i)
{
    uint64_t k = r->keys[i];
    int v = r->versions[i];
    memmove(&r->keys[1], &r->keys[0], (size_t)i * sizeof r->keys[0]);
    memmove(&r->versions[1], &r->versions[0], (size_t)i * sizeof r->versions[0]);
    r->keys[0] = k;
    r->versions[0] = v;
}

static int ref_get(ref_lru *r, uint64_t key) /* version, or -1 on a miss */
{
    int i = ref_find(r, key);
    if (i < 0) {
        r->misses++;
        return -1;
    }
    r->hits++;
    ref_touch(r, i);
    return r->versions[0];
}

static void ref_put(ref_lru *r, uint64_t key, int version)
{
    int i = ref_find(r, key);
    if (i < 0) {
        if (r->n == r->cap) {
            r->n--; /* drop the least recent */
            r->evictions++;
        }
        i = (int)r->n++;
        r->keys[i] = key;
    }
    r->versions[i] = version;
    ref_touch(r, i);
}

/* ---- scripted sequences ------------------------------------------------------------------------
 */

enum { PUT, GET, HAS };

typedef struct step {
    int op;
    uint64_t key;
    int expect; /* GET: version or -1 (miss); HAS: 1 or 0; PUT: the version stored */
} step;

typedef struct script {
    const char *name;
    size_t n_entries;
    step steps[16];
    size_t n_steps;
    int64_t evictions;
} script;

static void test_scripted_sequences(void **state)
{
    (void)state;
    const script scripts[] = {
        {"evict oldest",
         3,
         {{PUT, 1, 1},
          {PUT, 2, 2},
          {PUT, 3, 3},
          {PUT, 4, 4},
          {GET, 1, -1},
          {GET, 2, 2},
          {GET, 3, 3},
          {GET, 4, 4}},
         8,
         1},
        {"get refreshes",
         3,
         {{PUT, 1, 1},
          {PUT, 2, 2},
          {PUT, 3, 3},
          {GET, 1, 1},
          {PUT, 4, 4},
          {HAS, 2, 0},
          {HAS, 1, 1},
          {HAS, 3, 1},
          {PUT, 5, 5},
          {HAS, 3, 0},
          {HAS, 1, 1}},
         11,
         2},
        {"put refreshes",
         2,
         {{PUT, 10, 1},
          {PUT, 20, 2},
          {PUT, 10, 3},
          {PUT, 30, 4},
          {GET, 20, -1},
          {GET, 10, 3},
          {GET, 30, 4}},
         7,
         1},
        {"contains does not refresh",
         2,
         {{PUT, 7, 1}, {PUT, 8, 2}, {HAS, 7, 1}, {PUT, 9, 3}, {HAS, 7, 0}, {HAS, 8, 1}},
         6,
         1},
        {"one entry",
         1,
         {{PUT, 0, 1},
          {GET, 0, 1},
          {PUT, UINT64_MAX, 2},
          {GET, 0, -1},
          {GET, UINT64_MAX, 2},
          {PUT, UINT64_MAX, 3},
          {GET, UINT64_MAX, 3}},
         7,
         1},
        {"miss on empty", 4, {{GET, 5, -1}, {HAS, 5, 0}, {PUT, 5, 1}, {GET, 5, 1}}, 4, 0},
    };
    const size_t dim = 7;
    for (size_t s = 0; s < sizeof scripts / sizeof scripts[0]; s++) {
        const script *sc = &scripts[s];
        lore__cache *c = new_cache_entries(sc->n_entries, 0, dim);
        for (size_t i = 0; i < sc->n_steps; i++) {
            const step *st = &sc->steps[i];
            float v[16];
            switch (st->op) {
            case PUT:
                make_vec(v, dim, st->key, st->expect);
                lore__cache_put(c, st->key, v);
                break;
            case GET: {
                bool hit = lore__cache_get(c, st->key, v);
                if (hit != (st->expect >= 0))
                    fail_msg("%s, step %zu: get(%llu) %s", sc->name, i, (unsigned long long)st->key,
                             hit ? "hit" : "missed");
                if (hit)
                    assert_vec(v, dim, st->key, st->expect);
                break;
            }
            case HAS:
                if (lore__cache_contains(c, st->key) != (st->expect == 1))
                    fail_msg("%s, step %zu: contains(%llu) wrong", sc->name, i,
                             (unsigned long long)st->key);
                break;
            }
        }
        lore__cache_stats stats;
        lore__cache_get_stats(c, &stats);
        if (stats.evictions != sc->evictions)
            fail_msg("%s: %lld evictions, expected %lld", sc->name, (long long)stats.evictions,
                     (long long)sc->evictions);
        lore__cache_free(c);
    }
}

/* ---- random operations against the reference ----------------------------------------------------
 */

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void check_stats(const lore__cache *c, const ref_lru *r, size_t dim)
{
    lore__cache_stats s;
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.entries, r->n);
    assert_int_equal(s.hits, r->hits);
    assert_int_equal(s.misses, r->misses);
    assert_int_equal(s.evictions, r->evictions);
    assert_int_equal(s.bytes_used, s.entries * lore__cache_entry_bytes(dim));
    assert_true(s.bytes_used <= s.capacity_bytes);
}

static void run_random(size_t n_entries, size_t slack, size_t dim, int n_ops, uint64_t seed)
{
    lore__cache *c = new_cache_entries(n_entries, slack, dim);
    ref_lru r = {.cap = n_entries};
    assert_true(n_entries <= 128);

    /* The key space is a little over twice the capacity, so hits, misses and evictions all
     * happen. Half the keys are small and sequential (clustered home cells after mixing is
     * the hash's job), half are random 64-bit values, including the extremes. */
    size_t n_keys = 2 * n_entries + 3;
    uint64_t keys[2 * 128 + 3];
    uint64_t rng = seed;
    for (size_t i = 0; i < n_keys; i++)
        keys[i] = i % 2 ? xorshift64(&rng) : i / 2;
    keys[n_keys - 1] = UINT64_MAX;

    int version = 0;
    for (int op = 0; op < n_ops; op++) {
        uint64_t roll = xorshift64(&rng);
        uint64_t key = keys[(roll >> 8) % n_keys];
        float v[64];
        switch (roll % 8) {
        case 0:
        case 1:
        case 2:
        case 3: /* put */
            version++;
            make_vec(v, dim, key, version);
            lore__cache_put(c, key, v);
            ref_put(&r, key, version);
            break;
        case 4:
        case 5:
        case 6: { /* get */
            int want = ref_get(&r, key);
            for (size_t i = 0; i < dim; i++)
                v[i] = -1.0f;
            bool hit = lore__cache_get(c, key, v);
            if (hit != (want >= 0))
                fail_msg("cap %zu, op %d: get(%llu) %s", n_entries, op, (unsigned long long)key,
                         hit ? "hit, reference missed" : "missed, reference hit");
            if (hit)
                assert_vec(v, dim, key, want);
            else
                for (size_t i = 0; i < dim; i++)
                    assert_true(v[i] == -1.0f); /* a miss leaves out alone */
            break;
        }
        default: /* contains */
            assert_int_equal(lore__cache_contains(c, key), ref_find(&r, key) >= 0);
            break;
        }
        check_stats(c, &r, dim);
        /* Now and then every key's membership: any LRU-order or index error surfaces here. */
        if (op % 97 == 0)
            for (size_t k = 0; k < n_keys; k++)
                if (lore__cache_contains(c, keys[k]) != (ref_find(&r, keys[k]) >= 0))
                    fail_msg("cap %zu, op %d: membership of key %llu differs", n_entries, op,
                             (unsigned long long)keys[k]);
    }
    assert_true(r.evictions > 0);
    assert_true(r.hits > 0);
    lore__cache_free(c);
}

static void test_random_ops_match_reference(void **state)
{
    (void)state;
    const struct {
        size_t n_entries, slack, dim;
    } cases[] = {{1, 0, 3}, {2, 5, 1}, {7, 0, 16}, {100, 11, 5}, {128, 0, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_random(cases[i].n_entries, cases[i].slack, cases[i].dim, 20000,
                   0x9e3779b97f4a7c15ull + i);
}

/* A larger cache churned by a long stream of distinct keys: every put past the capacity
 * evicts, so the index's backward-shift deletion runs 49000 times on long-lived chains; the
 * cache must hold exactly the last n keys put. */
static void test_dense_churn_large_key_space(void **state)
{
    (void)state;
    const size_t dim = 2, n = 1000;
    lore__cache *c = new_cache_entries(n, 0, dim);
    float v[2];
    for (uint64_t k = 1; k <= 50000; k++) {
        make_vec(v, dim, k, 0);
        lore__cache_put(c, k * 0x100000001ull, v);
        if (k % 1000 == 0 || k > 49990)
            for (uint64_t j = (k > 1100 ? k - 1100 : 1); j <= k; j++)
                assert_int_equal(lore__cache_contains(c, j * 0x100000001ull), j + n > k);
    }
    lore__cache_stats s;
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.entries, n);
    assert_int_equal(s.evictions, 50000 - n);
    lore__cache_free(c);
}

/* ---- refresh, stats, counters -------------------------------------------------------------------
 */

static void test_put_refreshes_vector_and_recency(void **state)
{
    (void)state;
    const size_t dim = 4;
    lore__cache *c = new_cache_entries(2, 0, dim);
    float v[4];
    make_vec(v, dim, 1, 1);
    lore__cache_put(c, 1, v);
    make_vec(v, dim, 2, 1);
    lore__cache_put(c, 2, v);
    make_vec(v, dim, 1, 2);
    lore__cache_put(c, 1, v); /* refresh: new vector, now most recent */
    make_vec(v, dim, 3, 1);
    lore__cache_put(c, 3, v); /* evicts 2, not 1 */
    assert_false(lore__cache_contains(c, 2));
    assert_true(lore__cache_get(c, 1, v));
    assert_vec(v, dim, 1, 2);
    lore__cache_stats s;
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.evictions, 1);
    lore__cache_free(c);
}

static void test_stats_and_counters(void **state)
{
    (void)state;
    const size_t dim = 3;
    lore__cache *c = new_cache_entries(2, 0, dim);
    int64_t hits0 = lore_counter_read(LORE_COUNTER_CACHE_HITS);
    int64_t misses0 = lore_counter_read(LORE_COUNTER_CACHE_MISSES);
    float v[3];
    make_vec(v, dim, 1, 0);
    assert_false(lore__cache_get(c, 1, v));
    lore__cache_put(c, 1, v);
    assert_true(lore__cache_get(c, 1, v));
    assert_true(lore__cache_get(c, 1, v));
    assert_true(lore__cache_contains(c, 1)); /* not counted */
    assert_false(lore__cache_contains(c, 2));
    lore__cache_put(c, 2, v);
    lore__cache_put(c, 3, v);
    lore__cache_put(c, 4, v);

    lore__cache_stats s;
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.evictions, 2);
    assert_int_equal(s.entries, 2);
    assert_int_equal(lore_counter_read(LORE_COUNTER_CACHE_HITS) - hits0, 2);
    assert_int_equal(lore_counter_read(LORE_COUNTER_CACHE_MISSES) - misses0, 1);

    lore__cache_reset_stats(c);
    lore__cache_get_stats(c, &s);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.misses, 0);
    assert_int_equal(s.evictions, 0);
    assert_int_equal(s.entries, 2); /* the contents stay */
    assert_true(lore__cache_get(c, 4, v));
    lore__cache_free(c);
}

/* ---- keys
 * ---------------------------------------------------------------------------------------- */

static void test_key_hashing(void **state)
{
    (void)state;
    const char *t = "the quick brown fox";
    uint64_t k = lore__cache_key(42, t, strlen(t));
    char copy[32];
    strcpy(copy, t);
    assert_true(lore__cache_key(42, copy, strlen(copy)) == k); /* same text, other buffer */
    assert_true(lore__cache_key(43, t, strlen(t)) != k);       /* other model */
    assert_true(lore__cache_key(42, t, strlen(t) - 1) != k);   /* length is respected */

    /* Not NUL-terminated: exactly five bytes (ASan catches a read past them). */
    char *five = malloc(5);
    assert_non_null(five);
    memcpy(five, "quick", 5);
    assert_true(lore__cache_key(7, five, 5) == lore__cache_key(7, t + 4, 5));
    assert_true(lore__cache_key(7, five, 5) != lore__cache_key(7, t + 4, 6));
    free(five);

    /* XXH3-64 of the empty input with seed 0, from the xxHash reference test vectors. */
    assert_true(lore__cache_key(0, "", 0) == 0x2D06800538D394C2ull);
    assert_true(lore__cache_key(0, NULL, 0) == 0x2D06800538D394C2ull);
}

/* ---- bytes
 * --------------------------------------------------------------------------------------- */

static void test_entry_bytes_and_capacity(void **state)
{
    (void)state;
    for (size_t dim = 1; dim < 1000; dim += 37) {
        size_t e = lore__cache_entry_bytes(dim);
        /* The vector plus at least its key and some index share. */
        assert_true(e >= dim * sizeof(float) + sizeof(uint64_t) + sizeof(uint32_t));
        assert_int_equal(lore__cache_entry_bytes(dim + 1) - e, sizeof(float));
    }
    const size_t dim = 384, e = lore__cache_entry_bytes(dim);
    const size_t caps[] = {e, e + 1, 2 * e - 1, 2 * e, 10 * e + e / 2, 1000 * e + 3};
    const size_t want[] = {1, 1, 1, 2, 10, 1000};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        lore__cache *c = NULL;
        assert_int_equal(lore__cache_new(caps[i], dim, &c), LORE_OK);
        lore__cache_stats s;
        lore__cache_get_stats(c, &s);
        assert_int_equal(s.max_entries, want[i]);
        assert_int_equal(s.bytes_used, 0);
        float *v = calloc(dim, sizeof *v);
        assert_non_null(v);
        for (uint64_t k = 0; k < 3 * want[i]; k++) {
            lore__cache_put(c, k, v);
            lore__cache_get_stats(c, &s);
            assert_true(s.bytes_used <= caps[i]);
            assert_int_equal(s.entries, k + 1 < want[i] ? k + 1 : want[i]);
        }
        assert_true(s.bytes_used + e > caps[i]); /* full means no room for another entry */
        free(v);
        lore__cache_free(c);
    }
}

static void test_invalid_capacities(void **state)
{
    (void)state;
    lore__cache *c = (lore__cache *)&c; /* must be overwritten with NULL */
    const size_t dim = 384, e = lore__cache_entry_bytes(dim);
    char want_e[32], want_cap[32];
    snprintf(want_e, sizeof want_e, "%zu", e);

    const size_t bad[] = {0, 1, e - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lore__cache_new(bad[i], dim, &c), LORE_EINVAL);
        assert_null(c);
        snprintf(want_cap, sizeof want_cap, "%zu", bad[i]);
        assert_non_null(strstr(lore_last_error(), want_cap));
        assert_non_null(strstr(lore_last_error(), want_e));
        c = (lore__cache *)&c;
    }

    assert_int_equal(lore__cache_new(1 << 20, 0, &c), LORE_EINVAL);
    assert_null(c);
    assert_non_null(strstr(lore_last_error(), "dim"));

    /* Sizes whose products would overflow are refused, not wrapped. */
    assert_int_equal(lore__cache_new(SIZE_MAX, SIZE_MAX / 4, &c), LORE_EINVAL);
    assert_null(c);
    assert_int_equal(lore__cache_new(SIZE_MAX, 1, &c), LORE_EINVAL);
    assert_null(c);
    lore__cache_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_sequences),
        cmocka_unit_test(test_random_ops_match_reference),
        cmocka_unit_test(test_dense_churn_large_key_space),
        cmocka_unit_test(test_put_refreshes_vector_and_recency),
        cmocka_unit_test(test_stats_and_counters),
        cmocka_unit_test(test_key_hashing),
        cmocka_unit_test(test_entry_bytes_and_capacity),
        cmocka_unit_test(test_invalid_capacities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
