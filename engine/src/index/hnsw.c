/*
 * hnsw.c - the hierarchical navigable small-world graph (Malkov & Yashunin), with hnswlib's
 * memory layout and neighbour selection.
 *
 * Nodes are numbered 0..n-1 in insertion order; node i holds the caller's id. A node gets a
 * level floor(-ln(U) / ln(M)) from the index's seeded generator; it has links on levels
 * 0..level: up to 2M on level 0, up to M above. A search descends greedily from the entry
 * point (a node of the top level) through the upper levels, then runs the ef search on
 * level 0. An insertion runs the same descent, then on each of its levels an ef_construction
 * search whose result goes through the selection heuristic (hnswlib's getNeighborsByHeuristic2:
 * a candidate, nearest first, is kept only when it is nearer to the base than to every
 * neighbour already kept); each chosen neighbour links back, and a neighbour whose list
 * overflows has it pruned by the same heuristic.
 *
 * Level 0 lives in one block of cap nodes, `stride` bytes each (a multiple of 64), so one hop
 * reads the link list and then vectors without chasing pointers:
 *   offset    size      field
 *   0         4         link count (<= 2M)
 *   4         8M        2M link slots, u32 node numbers (< n); unused slots are 0
 *   off_id    8         id, int64 (in the padding before the vector)
 *   off_vec   4*dim     the vector, 64-byte aligned
 * Upper levels: per node with level L >= 1, one array of L lists of (1 + M) u32
 * (count, M slots), level l at (l - 1) * (1 + M).
 *
 * Candidate lists: one sorted array of at most ef (distance, node) pairs per search, with a
 * cursor on the nearest pair not yet expanded (the expanded bit is the top bit of the node
 * number). It is the candidate heap and the result heap of the paper in one: a candidate worse
 * than the ef-th result would never be expanded, so dropping it changes nothing.
 * Visited sets: per scratch, a u16 tag per node; each search takes the next tag, so nothing is
 * cleared except when the tag wraps (once in 65535 searches). Scratch comes from a
 * mutex-protected free list, so concurrent searches are safe; add needs exclusive use.
 *
 * Distances: ix->dk->l2 for L2, -ix->dk->ip for IP, so smaller is always nearer inside.
 *
 * Snapshot body (after index.c's header, which holds n), little-endian:
 *   u32 M, u64 level generator state, u32 max level, u32 entry node (0xffffffff when empty)
 *   n node records: u32 level, u32 link count, 2M u32 links, i64 id, dim f32
 *   upper links: for each node with level >= 1 in order, level * (1 + M) u32
 * Everything is read in bounded chunks, so memory grows only with bytes actually read.
 */
#include "core/lore_int.h"
#include "index/index_int.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LEVEL_MAX 63         /* -ln(2^-53) / ln(2) < 54: no draw reaches it */
#define MAX_NODES INT32_MAX  /* node numbers keep the top bit free for the expanded flag */
#define EXPANDED 0x80000000u /* candidate-list flag: this node's links were scanned */
#define NO_NODE UINT32_MAX
#define SNAP_CHUNK_BYTES (1u << 20)
/* Cache lines of a vector prefetched before its distance; the hardware prefetcher streams the
 * rest. 1 beat 2, 4, 8 and all 24 lines of a 384-d vector at 10k and 100k nodes. */
#define PREFETCH_LINES 1

typedef struct cand {
    float d;
    uint32_t node; /* | EXPANDED */
} cand;

typedef struct hnsw_scratch {
    struct hnsw_scratch *next;
    uint16_t *visited; /* visited_cap tags */
    size_t visited_cap;
    uint16_t tag;
    cand *pool; /* pool_cap candidates, sorted by distance */
    int pool_cap;
    uint32_t *fresh;  /* 2M + 1: unvisited neighbours of the node being expanded */
    uint32_t *chosen; /* 2M + 1: neighbours picked by the heuristic */
    cand *prune;      /* 2M + 1: candidates when a full list is pruned */
    size_t bytes;
} hnsw_scratch;

typedef struct hnsw {
    int dim, M, M0, ef_construction;
    bool ip;
    double level_mult;
    uint64_t rng;
    size_t n, cap;
    size_t stride, off_id, off_vec, link_bytes;
    unsigned char *level0;
    uint8_t *levels;
    uint32_t **upper;
    size_t upper_bytes;
    uint32_t entry;
    int max_level;
    pthread_mutex_t mu; /* guards free_list */
    hnsw_scratch *free_list;
    atomic_size_t scratch_bytes;
} hnsw;

/* ---- layout -------------------------------------------------------------- */

static inline size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static inline unsigned char *node_at(const hnsw *h, uint32_t i)
{
    return h->level0 + (size_t)i * h->stride;
}

static inline const float *vec_of(const hnsw *h, uint32_t i)
{
    return (const float *)(node_at(h, i) + h->off_vec);
}

static inline uint32_t *links_of(const hnsw *h, uint32_t i, int level)
{
    if (level == 0)
        return (uint32_t *)node_at(h, i);
    return h->upper[i] + (size_t)(level - 1) * (size_t)(h->M + 1);
}

/* Words in node i's upper-level lists. */
static inline size_t upper_words(const hnsw *h, uint32_t i)
{
    return (size_t)h->levels[i] * (size_t)(h->M + 1);
}

static inline int64_t id_of(const hnsw *h, uint32_t i)
{
    int64_t id;
    memcpy(&id, node_at(h, i) + h->off_id, sizeof id);
    return id;
}

static inline void prefetch_vec(const hnsw *h, uint32_t i)
{
    const char *p = (const char *)vec_of(h, i);
    for (int l = 0; l < PREFETCH_LINES; l++)
        __builtin_prefetch(p + 64 * l, 0, 3);
}

/* The inside distance: smaller is nearer for both metrics. */
static inline float dist(const hnsw *h, const lore__dist_kernels *dk, const float *a,
                         const float *b)
{
    return h->ip ? -dk->ip(a, b, (size_t)h->dim) : dk->l2(a, b, (size_t)h->dim);
}

/* ---- level generator ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int random_level(hnsw *h)
{
    /* U in (0, 1]: never 0, so the log is finite. */
    double u = (double)((splitmix64(&h->rng) >> 11) + 1) * 0x1.0p-53;
    double l = -log(u) * h->level_mult;
    return l >= LEVEL_MAX ? LEVEL_MAX : (int)l;
}

/* ---- scratch pool -------------------------------------------------------- */

static void scratch_free(hnsw *h, hnsw_scratch *s)
{
    if (!s)
        return;
    atomic_fetch_sub(&h->scratch_bytes, s->bytes);
    free(s->visited);
    free(s->pool);
    free(s->fresh);
    free(s->chosen);
    free(s->prune);
    free(s);
}

static void scratch_release(hnsw *h, hnsw_scratch *s)
{
    pthread_mutex_lock(&h->mu);
    s->next = h->free_list;
    h->free_list = s;
    pthread_mutex_unlock(&h->mu);
}

/*
 * A scratch with a visited set for every node the block can hold and a candidate list of at
 * least ef. Allocates only when the pool is empty or the index or ef outgrew it.
 */
static lore_status scratch_acquire(hnsw *h, int ef, hnsw_scratch **out)
{
    pthread_mutex_lock(&h->mu);
    hnsw_scratch *s = h->free_list;
    if (s)
        h->free_list = s->next;
    pthread_mutex_unlock(&h->mu);
    if (!s) {
        size_t m = 2 * (size_t)h->M + 1;
        s = calloc(1, sizeof *s);
        if (s) {
            s->fresh = malloc(m * sizeof *s->fresh);
            s->chosen = malloc(m * sizeof *s->chosen);
            s->prune = malloc(m * sizeof *s->prune);
            s->bytes = sizeof *s + m * (2 * sizeof(uint32_t) + sizeof(cand));
            atomic_fetch_add(&h->scratch_bytes, s->bytes);
        }
        if (!s || !s->fresh || !s->chosen || !s->prune) {
            scratch_free(h, s);
            return lore__fail(LORE_ENOMEM, "hnsw: out of memory for search scratch");
        }
    }
    if (s->visited_cap < h->cap) {
        uint16_t *v = calloc(h->cap, sizeof *v);
        if (!v) {
            scratch_release(h, s);
            return lore__fail(LORE_ENOMEM, "hnsw: out of memory for a visited set of %zu nodes",
                              h->cap);
        }
        free(s->visited);
        size_t grown = (h->cap - s->visited_cap) * sizeof *v;
        s->bytes += grown;
        atomic_fetch_add(&h->scratch_bytes, grown);
        s->visited = v;
        s->visited_cap = h->cap;
        s->tag = 0;
    }
    if (s->pool_cap < ef) {
        cand *p = realloc(s->pool, (size_t)ef * sizeof *p);
        if (!p) {
            scratch_release(h, s);
            return lore__fail(LORE_ENOMEM, "hnsw: out of memory for a candidate list of %d", ef);
        }
        size_t grown = (size_t)(ef - s->pool_cap) * sizeof *p;
        s->bytes += grown;
        atomic_fetch_add(&h->scratch_bytes, grown);
        s->pool = p;
        s->pool_cap = ef;
    }
    *out = s;
    return LORE_OK;
}

static uint16_t next_tag(hnsw_scratch *s)
{
    if (++s->tag == 0) {
        memset(s->visited, 0, s->visited_cap * sizeof *s->visited);
        s->tag = 1;
    }
    return s->tag;
}

/* ---- search -------------------------------------------------------------- */

typedef struct work {
    int64_t n_dist, n_hops;
} work;

/* Moves *ep to the nearest node reachable by strictly improving steps on level. */
static void greedy(const hnsw *h, const lore__dist_kernels *dk, const float *q, int level,
                   uint32_t *ep, float *d_ep, work *w)
{
    bool changed = true;
    while (changed) {
        changed = false;
        const uint32_t *ll = links_of(h, *ep, level);
        uint32_t cnt = ll[0];
        w->n_hops++;
        w->n_dist += cnt;
        if (cnt)
            prefetch_vec(h, ll[1]);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = ll[1 + j];
            if (j + 1 < cnt)
                prefetch_vec(h, ll[2 + j]);
            float d = dist(h, dk, q, vec_of(h, v));
            if (d < *d_ep) {
                *d_ep = d;
                *ep = v;
                changed = true;
            }
        }
    }
}

/*
 * Inserts (d, node) into the sorted list a of *size <= cap entries, after equal distances;
 * the caller has checked that it beats the last entry when the list is full. Returns its
 * position.
 */
static inline int pool_insert(cand *a, int *size, int cap, float d, uint32_t node)
{
    int lo = 0, hi = *size;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (a[mid].d <= d)
            lo = mid + 1;
        else
            hi = mid;
    }
    int last = *size < cap ? *size : cap - 1;
    memmove(a + lo + 1, a + lo, (size_t)(last - lo) * sizeof *a);
    a[lo].d = d;
    a[lo].node = node;
    if (*size < cap)
        (*size)++;
    return lo;
}

/*
 * The ef search on level from ep: leaves the nearest (up to ef) nodes found in s->pool,
 * nearest first, with the EXPANDED bit possibly set. Returns how many.
 */
static int search_level(const hnsw *h, const lore__dist_kernels *dk, const float *q, int level,
                        uint32_t ep, float d_ep, int ef, hnsw_scratch *s, work *w)
{
    uint16_t tag = next_tag(s);
    uint16_t *visited = s->visited;
    uint32_t *fresh = s->fresh;
    cand *a = s->pool;
    int size = 1, cur = 0;
    a[0].d = d_ep;
    a[0].node = ep;
    visited[ep] = tag;
    int64_t n_dist = 0, n_hops = 0;
    while (cur < size) {
        uint32_t u = a[cur].node;
        a[cur].node = u | EXPANDED;
        const uint32_t *ll = links_of(h, u, level);
        uint32_t cnt = ll[0];
        n_hops++;
        /* Gather the unvisited neighbours first, so their vectors are in flight while the
         * first distances are computed. */
        int m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = ll[1 + j];
            if (visited[v] != tag) {
                visited[v] = tag;
                fresh[m++] = v;
                prefetch_vec(h, v);
            }
        }
        n_dist += m;
        int lowest = cur + 1;
        for (int i = 0; i < m; i++) {
            uint32_t v = fresh[i];
            float d = dist(h, dk, q, vec_of(h, v));
            if (size < ef || d < a[size - 1].d) {
                int pos = pool_insert(a, &size, ef, d, v);
                if (pos < lowest)
                    lowest = pos;
            }
        }
        /* Everything before the old cursor is expanded; an insertion may have put an
         * unexpanded node before it. */
        cur = lowest;
        while (cur < size && (a[cur].node & EXPANDED))
            cur++;
    }
    w->n_dist += n_dist;
    w->n_hops += n_hops;
    return size;
}

static lore_status hnsw_search_one(const lore_index *ix, const float *q, int k,
                                   const lore_search_params *sp, float *scores, int64_t *ids)
{
    hnsw *h = ix->impl;
    const lore__dist_kernels *dk = ix->dk;
    int ef = sp && sp->ef_search > k ? sp->ef_search : k;
    int got = 0;
    if (h->n > 0) {
        hnsw_scratch *s = NULL;
        lore_status st = scratch_acquire(h, ef, &s);
        if (st != LORE_OK)
            return st;
        work w = {1, 0};
        uint32_t ep = h->entry;
        float d_ep = dist(h, dk, q, vec_of(h, ep));
        for (int l = h->max_level; l > 0; l--)
            greedy(h, dk, q, l, &ep, &d_ep, &w);
        got = search_level(h, dk, q, 0, ep, d_ep, ef, s, &w);
        if (got > k)
            got = k;
        for (int i = 0; i < got; i++) {
            uint32_t node = s->pool[i].node & ~EXPANDED;
            scores[i] = h->ip ? -s->pool[i].d : s->pool[i].d;
            ids[i] = id_of(h, node);
        }
        scratch_release(h, s);
        lore__index_count_distances(ix, w.n_dist);
        lore__index_count_hops(ix, w.n_hops);
    }
    for (int i = got; i < k; i++) {
        scores[i] = h->ip ? -INFINITY : INFINITY;
        ids[i] = -1;
    }
    return LORE_OK;
}

/* ---- insertion ----------------------------------------------------------- */

/*
 * hnswlib's getNeighborsByHeuristic2: from c (nc candidates, nearest to the base first, d =
 * distance to the base) keeps up to m_max, each only when it is nearer to the base than to
 * every one kept before it. Fewer than m_max candidates are all kept.
 */
static int select_neighbors(const hnsw *h, const lore__dist_kernels *dk, const cand *c, int nc,
                            int m_max, uint32_t *out, work *w)
{
    if (nc < m_max) {
        for (int i = 0; i < nc; i++)
            out[i] = c[i].node & ~EXPANDED;
        return nc;
    }
    int ns = 0;
    for (int i = 0; i < nc && ns < m_max; i++) {
        uint32_t node = c[i].node & ~EXPANDED;
        const float *v = vec_of(h, node);
        bool good = true;
        for (int j = 0; j < ns; j++) {
            w->n_dist++;
            if (dist(h, dk, v, vec_of(h, out[j])) < c[i].d) {
                good = false;
                break;
            }
        }
        if (good)
            out[ns++] = node;
    }
    return ns;
}

/* Links node `from` to `to` on level; a full list is pruned by the heuristic, as hnswlib does. */
static void link_back(const hnsw *h, const lore__dist_kernels *dk, uint32_t from, uint32_t to,
                      int level, hnsw_scratch *s, work *w)
{
    uint32_t *ll = links_of(h, from, level);
    uint32_t m_max = level == 0 ? (uint32_t)h->M0 : (uint32_t)h->M;
    if (ll[0] < m_max) {
        ll[1 + ll[0]] = to;
        ll[0]++;
        return;
    }
    const float *base = vec_of(h, from);
    cand *c = s->prune;
    c[0].d = dist(h, dk, base, vec_of(h, to));
    c[0].node = to;
    for (uint32_t j = 0; j < m_max; j++) {
        c[1 + j].node = ll[1 + j];
        c[1 + j].d = dist(h, dk, base, vec_of(h, ll[1 + j]));
    }
    w->n_dist += m_max + 1;
    int nc = (int)m_max + 1;
    /* Insertion sort: 2M + 1 entries at most. */
    for (int i = 1; i < nc; i++) {
        cand t = c[i];
        int j = i - 1;
        while (j >= 0 && c[j].d > t.d) {
            c[j + 1] = c[j];
            j--;
        }
        c[j + 1] = t;
    }
    int ns = select_neighbors(h, dk, c, nc, (int)m_max, s->chosen, w);
    memcpy(ll + 1, s->chosen, (size_t)ns * sizeof *ll);
    memset(ll + 1 + ns, 0, (size_t)(m_max - (uint32_t)ns) * sizeof *ll);
    ll[0] = (uint32_t)ns;
}

/* Inserts node i (vector, id and level already in place; links empty) into the graph. */
static void insert_node(hnsw *h, const lore__dist_kernels *dk, uint32_t i, hnsw_scratch *s, work *w)
{
    int level = h->levels[i];
    if (h->entry == NO_NODE) {
        h->entry = i;
        h->max_level = level;
        return;
    }
    const float *q = vec_of(h, i);
    uint32_t ep = h->entry;
    float d_ep = dist(h, dk, q, vec_of(h, ep));
    w->n_dist++;
    for (int l = h->max_level; l > level; l--)
        greedy(h, dk, q, l, &ep, &d_ep, w);
    for (int l = level < h->max_level ? level : h->max_level; l >= 0; l--) {
        int nc = search_level(h, dk, q, l, ep, d_ep, h->ef_construction, s, w);
        /* s->pool is overwritten by nothing below; chosen is reused by link_back, so copy. */
        int ns = select_neighbors(h, dk, s->pool, nc, h->M, s->chosen, w);
        uint32_t *ll = links_of(h, i, l);
        memcpy(ll + 1, s->chosen, (size_t)ns * sizeof *ll);
        ll[0] = (uint32_t)ns;
        for (int j = 0; j < ns; j++)
            link_back(h, dk, ll[1 + j], i, l, s, w);
        /* The nearest candidate is always kept, and starts the next level down. */
        ep = s->pool[0].node & ~EXPANDED;
        d_ep = s->pool[0].d;
    }
    if (level > h->max_level) {
        h->entry = i;
        h->max_level = level;
    }
}

/*
 * Grows the level-0 block and the per-node arrays to hold at least want nodes. Pooled scratch
 * keeps its old visited sets; scratch_acquire regrows them.
 */
static lore_status reserve(hnsw *h, size_t want)
{
    if (want <= h->cap)
        return LORE_OK;
    size_t cap = h->cap < 64 ? 64 : h->cap + h->cap / 2;
    if (cap < want)
        cap = want;
    if (cap > MAX_NODES)
        cap = MAX_NODES;
    unsigned char *block = aligned_alloc(64, cap * h->stride);
    uint8_t *levels = realloc(h->levels, cap * sizeof *levels);
    if (levels)
        h->levels = levels;
    uint32_t **upper = realloc(h->upper, cap * sizeof *upper);
    if (upper)
        h->upper = upper;
    if (!block || !levels || !upper) {
        free(block);
        return lore__fail(LORE_ENOMEM, "hnsw: out of memory growing to %zu nodes (%zu bytes)", cap,
                          cap * h->stride);
    }
    if (h->n)
        memcpy(block, h->level0, h->n * h->stride);
    free(h->level0);
    h->level0 = block;
    memset(h->upper + h->cap, 0, (cap - h->cap) * sizeof *upper);
    h->cap = cap;
    return LORE_OK;
}

/* Puts vector x with id and level in as node i (links empty), allocating its upper lists. */
static lore_status place_node(hnsw *h, uint32_t i, const float *x, int64_t id, int level)
{
    unsigned char *p = node_at(h, i);
    memset(p, 0, h->link_bytes);
    memcpy(p + h->off_id, &id, sizeof id);
    memcpy(p + h->off_vec, x, (size_t)h->dim * sizeof *x);
    h->levels[i] = (uint8_t)level;
    if (level > 0) {
        size_t bytes = (size_t)level * (size_t)(h->M + 1) * sizeof(uint32_t);
        h->upper[i] = calloc(1, bytes);
        if (!h->upper[i])
            return lore__fail(LORE_ENOMEM, "hnsw: out of memory for the links of node %u", i);
        h->upper_bytes += bytes;
    }
    return LORE_OK;
}

static lore_status hnsw_add(lore_index *ix, const float *x, const int64_t *ids, size_t n)
{
    hnsw *h = ix->impl;
    const lore__dist_kernels *dk = ix->dk;
    if (n > MAX_NODES - h->n)
        return lore__fail(LORE_EINVAL, "hnsw add: %zu + %zu vectors; at most %d fit", h->n, n,
                          MAX_NODES);
    lore_status s = reserve(h, h->n + n);
    if (s != LORE_OK)
        return s;
    /* Place every node first: past this loop nothing can fail, so a failed add leaves the
     * graph as it was. */
    uint64_t rng = h->rng;
    size_t placed = 0;
    for (; placed < n && s == LORE_OK; placed++) {
        int64_t id = ids ? ids[placed] : (int64_t)(h->n + placed);
        uint32_t node = (uint32_t)(h->n + placed);
        s = place_node(h, node, x + placed * (size_t)h->dim, id, random_level(h));
    }
    hnsw_scratch *sc = NULL;
    if (s == LORE_OK)
        s = scratch_acquire(h, h->ef_construction, &sc);
    if (s != LORE_OK) {
        for (size_t i = 0; i < placed; i++) {
            uint32_t node = (uint32_t)(h->n + i);
            if (h->upper[node])
                h->upper_bytes -= upper_words(h, node) * sizeof(uint32_t);
            free(h->upper[node]);
            h->upper[node] = NULL;
        }
        h->rng = rng;
        return s;
    }
    work w = {0, 0};
    size_t base = h->n;
    for (size_t i = 0; i < n; i++) {
        insert_node(h, dk, (uint32_t)(base + i), sc, &w);
        h->n = base + i + 1;
        /* Keep the counters moving on long adds, without an atomic per distance. */
        if ((i & 1023) == 1023) {
            lore__index_count_distances(ix, w.n_dist);
            lore__index_count_hops(ix, w.n_hops);
            w.n_dist = w.n_hops = 0;
        }
    }
    scratch_release(h, sc);
    lore__index_count_distances(ix, w.n_dist);
    lore__index_count_hops(ix, w.n_hops);
    return LORE_OK;
}

/* ---- life cycle ---------------------------------------------------------- */

static lore_status hnsw_init(lore_index *ix)
{
    const lore_index_params *p = &ix->p;
    assert(p->M >= 2 && p->ef_construction >= 1 && p->dim >= 1);
    hnsw *h = calloc(1, sizeof *h);
    if (!h)
        return lore__fail(LORE_ENOMEM, "hnsw: out of memory");
    h->dim = p->dim;
    h->M = p->M;
    h->M0 = 2 * p->M;
    /* As hnswlib: a construction list shorter than M could not fill a node's links. */
    h->ef_construction = p->ef_construction > p->M ? p->ef_construction : p->M;
    h->ip = p->metric == LORE_METRIC_IP;
    h->level_mult = 1.0 / log((double)p->M);
    h->rng = p->seed;
    h->link_bytes = sizeof(uint32_t) * (1 + (size_t)h->M0);
    h->off_id = round_up(h->link_bytes, sizeof(int64_t));
    h->off_vec = round_up(h->off_id + sizeof(int64_t), 64);
    h->stride = round_up(h->off_vec + (size_t)h->dim * sizeof(float), 64);
    h->entry = NO_NODE;
    atomic_init(&h->scratch_bytes, 0);
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return lore__fail(LORE_ENOMEM, "hnsw: cannot create the scratch pool's mutex");
    }
    ix->impl = h;
    return LORE_OK;
}

static void hnsw_destroy(lore_index *ix)
{
    hnsw *h = ix->impl;
    if (!h)
        return;
    while (h->free_list) {
        hnsw_scratch *s = h->free_list;
        h->free_list = s->next;
        scratch_free(h, s);
    }
    for (size_t i = 0; i < h->cap; i++)
        free(h->upper[i]);
    free(h->upper);
    free(h->levels);
    free(h->level0);
    pthread_mutex_destroy(&h->mu);
    free(h);
    ix->impl = NULL;
}

static size_t hnsw_memory_bytes(const lore_index *ix)
{
    const hnsw *h = ix->impl;
    return sizeof *h + h->cap * h->stride + h->cap * (sizeof *h->levels + sizeof *h->upper) +
           h->upper_bytes + atomic_load(&((hnsw *)h)->scratch_bytes);
}

/* ---- snapshots ----------------------------------------------------------- */

static size_t record_bytes(const hnsw *h)
{
    return sizeof(uint32_t) + h->link_bytes + sizeof(int64_t) + (size_t)h->dim * sizeof(float);
}

static lore_status hnsw_save(const lore_index *ix, lore__snap_writer *w)
{
    const hnsw *h = ix->impl;
    assert(h->n == ix->n);
    lore_status s = lore__snap_put_u32(w, (uint32_t)h->M);
    if (s == LORE_OK)
        s = lore__snap_put_u64(w, h->rng);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, (uint32_t)h->max_level);
    if (s == LORE_OK)
        s = lore__snap_put_u32(w, h->entry);
    if (s != LORE_OK)
        return s;
    size_t rec = record_bytes(h), per_chunk = SNAP_CHUNK_BYTES / rec ? SNAP_CHUNK_BYTES / rec : 1;
    unsigned char *buf = malloc(per_chunk * rec);
    if (!buf)
        return lore__fail(LORE_ENOMEM, "hnsw save: out of memory for a %zu-byte buffer",
                          per_chunk * rec);
    /* Node records, a chunk at a time. */
    for (size_t first = 0; first < h->n && s == LORE_OK; first += per_chunk) {
        size_t b = h->n - first < per_chunk ? h->n - first : per_chunk;
        unsigned char *o = buf;
        for (size_t i = first; i < first + b; i++) {
            uint32_t level = h->levels[i];
            const unsigned char *p = node_at(h, (uint32_t)i);
            memcpy(o, &level, sizeof level);
            o += sizeof level;
            memcpy(o, p, h->link_bytes);
            o += h->link_bytes;
            memcpy(o, p + h->off_id, sizeof(int64_t));
            o += sizeof(int64_t);
            memcpy(o, p + h->off_vec, (size_t)h->dim * sizeof(float));
            o += (size_t)h->dim * sizeof(float);
        }
        s = lore__snap_put(w, buf, b * rec);
    }
    /* Upper lists, gathered into the same buffer. */
    size_t used = 0, cap = per_chunk * rec;
    for (size_t i = 0; i < h->n && s == LORE_OK; i++) {
        size_t bytes = upper_words(h, (uint32_t)i) * sizeof(uint32_t);
        if (bytes == 0)
            continue;
        if (used + bytes > cap) {
            s = lore__snap_put(w, buf, used);
            used = 0;
        }
        if (s == LORE_OK && bytes > cap)
            s = lore__snap_put(w, h->upper[i], bytes);
        else if (s == LORE_OK) {
            memcpy(buf + used, h->upper[i], bytes);
            used += bytes;
        }
    }
    if (s == LORE_OK)
        s = lore__snap_put(w, buf, used);
    free(buf);
    return s;
}

/* Checks the first count links of list (of node i on level) against n and the levels. */
static lore_status check_links(const hnsw *h, size_t n, uint32_t i, int level, const uint32_t *list,
                               uint32_t count)
{
    uint32_t m_max = level == 0 ? (uint32_t)h->M0 : (uint32_t)h->M;
    if (count > m_max)
        return lore__fail(LORE_ECORRUPT,
                          "hnsw snapshot: node %u has %u links on level %d (at most %u)", i, count,
                          level, m_max);
    for (uint32_t j = 0; j < count; j++) {
        if (list[j] >= n)
            return lore__fail(LORE_ECORRUPT,
                              "hnsw snapshot: node %u level %d link %u is node %u (n is %zu)", i,
                              level, j, list[j], n);
        /* A link on level l must reach a node that has level l, or search reads past its lists. */
        if (level > 0 && h->levels[list[j]] < level)
            return lore__fail(LORE_ECORRUPT,
                              "hnsw snapshot: node %u level %d links node %u, whose level is %d", i,
                              level, list[j], h->levels[list[j]]);
    }
    return LORE_OK;
}

static lore_status load_nodes(hnsw *h, size_t n, uint32_t max_level, lore__snap_reader *r)
{
    size_t rec = record_bytes(h), per_chunk = SNAP_CHUNK_BYTES / rec ? SNAP_CHUNK_BYTES / rec : 1;
    /* Chunks bound the memory a lying count can claim to what the stream really holds. */
    unsigned char *buf = malloc(per_chunk * rec);
    if (!buf)
        return lore__fail(LORE_ENOMEM, "hnsw load: out of memory for a %zu-byte buffer",
                          per_chunk * rec);
    lore_status s = LORE_OK;
    while (h->n < n && s == LORE_OK) {
        size_t b = n - h->n < per_chunk ? n - h->n : per_chunk;
        s = reserve(h, h->n + b);
        if (s == LORE_OK)
            s = lore__snap_get(r, buf, b * rec);
        const unsigned char *o = buf;
        for (size_t k = 0; k < b && s == LORE_OK; k++, o += rec) {
            uint32_t i = (uint32_t)h->n, level, count;
            memcpy(&level, o, sizeof level);
            memcpy(&count, o + sizeof level, sizeof count);
            if (level > max_level) {
                s = lore__fail(LORE_ECORRUPT,
                               "hnsw snapshot: node %u has level %u, above the max level %u", i,
                               level, max_level);
                break;
            }
            unsigned char *p = node_at(h, i);
            memcpy(p, o + sizeof level, h->link_bytes);
            uint32_t *ll = (uint32_t *)p;
            s = check_links(h, n, i, 0, ll + 1, count);
            if (s != LORE_OK)
                break;
            memset(ll + 1 + count, 0, (size_t)((uint32_t)h->M0 - count) * sizeof *ll);
            memcpy(p + h->off_id, o + sizeof level + h->link_bytes, sizeof(int64_t));
            memcpy(p + h->off_vec, o + sizeof level + h->link_bytes + sizeof(int64_t),
                   (size_t)h->dim * sizeof(float));
            h->levels[i] = (uint8_t)level;
            h->upper[i] = NULL;
            h->n++;
        }
    }
    free(buf);
    return s;
}

static lore_status load_upper(hnsw *h, lore__snap_reader *r)
{
    for (uint32_t i = 0; i < h->n; i++) {
        size_t words = upper_words(h, i);
        if (words == 0)
            continue;
        h->upper[i] = malloc(words * sizeof(uint32_t));
        if (!h->upper[i])
            return lore__fail(LORE_ENOMEM, "hnsw load: out of memory for the links of node %u", i);
        h->upper_bytes += words * sizeof(uint32_t);
        lore_status s = lore__snap_get(r, h->upper[i], words * sizeof(uint32_t));
        for (int l = 1; l <= h->levels[i] && s == LORE_OK; l++) {
            uint32_t *ll = links_of(h, i, l);
            s = check_links(h, h->n, i, l, ll + 1, ll[0]);
            if (s == LORE_OK)
                memset(ll + 1 + ll[0], 0, (size_t)((uint32_t)h->M - ll[0]) * sizeof *ll);
        }
        if (s != LORE_OK)
            return s;
    }
    return LORE_OK;
}

static lore_status hnsw_load(lore_index *ix, lore__snap_reader *r)
{
    hnsw *h = ix->impl;
    assert(h->n == 0);
    size_t n = ix->n;
    if (n > MAX_NODES)
        return lore__fail(LORE_ECORRUPT, "hnsw snapshot: n is %zu, at most %d", n, MAX_NODES);
    uint32_t M, max_level, entry;
    uint64_t rng;
    lore_status s = lore__snap_get_u32(r, &M);
    if (s == LORE_OK && M != (uint32_t)h->M)
        s = lore__fail(LORE_ECORRUPT, "hnsw snapshot: body has M %u, header %d", M, h->M);
    if (s == LORE_OK)
        s = lore__snap_get_u64(r, &rng);
    if (s == LORE_OK)
        s = lore__snap_get_u32(r, &max_level);
    if (s == LORE_OK)
        s = lore__snap_get_u32(r, &entry);
    if (s != LORE_OK)
        return s;
    if (max_level > LEVEL_MAX)
        return lore__fail(LORE_ECORRUPT, "hnsw snapshot: max level %u (at most %d)", max_level,
                          LEVEL_MAX);
    if (n == 0 && (entry != NO_NODE || max_level != 0))
        return lore__fail(LORE_ECORRUPT,
                          "hnsw snapshot: empty graph with entry node %u and max level %u", entry,
                          max_level);
    if (n > 0 && entry >= n)
        return lore__fail(LORE_ECORRUPT, "hnsw snapshot: entry node %u (n is %zu)", entry, n);
    s = load_nodes(h, n, max_level, r);
    if (s != LORE_OK)
        return s;
    if (n > 0 && h->levels[entry] != max_level)
        return lore__fail(LORE_ECORRUPT,
                          "hnsw snapshot: entry node %u has level %d, not the max level %u", entry,
                          h->levels[entry], max_level);
    s = load_upper(h, r);
    if (s != LORE_OK)
        return s;
    h->rng = rng;
    h->entry = entry;
    h->max_level = (int)max_level;
    return LORE_OK;
}

const lore__index_ops lore__hnsw_ops = {
    .init = hnsw_init,
    .destroy = hnsw_destroy,
    .train = NULL,
    .add = hnsw_add,
    .search_one = hnsw_search_one,
    .search_batch = NULL,
    .memory_bytes = hnsw_memory_bytes,
    .save = hnsw_save,
    .load = hnsw_load,
};
