/*
 * cache.c - the embedder's bounded LRU cache of vectors keyed by a 64-bit text hash.
 *
 * Everything is allocated by lore__cache_new, sized for max_entries =
 * capacity_bytes / lore__cache_entry_bytes(dim); get and put never allocate and
 * run in O(1) expected time.
 *
 * Layout (n = max_entries, slots 0..n-1):
 *   nodes[n]    key and the LRU links (prev/next slot index, NIL at the ends)
 *   vecs[n*dim] the vector of slot s at vecs + s*dim
 *   index[2n]   open-addressing hash table of slot indices (EMPTY when free),
 *               linear probing; the load factor never exceeds 1/2.
 * Per entry that is dim floats + one node + two index cells, which is exactly
 * what lore__cache_entry_bytes charges; the fixed header is not charged.
 *
 * Invariants:
 *   - slots 0..entries-1 are live; a slot is handed out once (entries grows up
 *     to n) and afterwards only reused by evicting the tail, so no free list;
 *   - every live slot is in the index exactly once and on the LRU list exactly
 *     once; head is the most recently used, tail the least;
 *   - the index has no tombstones: removal shifts later cells of the probe
 *     chain back (backward-shift deletion), so every key stays reachable from
 *     its home cell without crossing an EMPTY cell.
 * Stored keys are already XXH3 hashes, but a caller may use any 64-bit value,
 * so the home cell comes from a mixed key (splitmix64's finaliser) reduced
 * with a multiply-shift, which needs no power-of-two table size.
 */
#include "core/lore_int.h"

#include "model/cache.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NIL UINT32_MAX
#define EMPTY UINT32_MAX

/* Index cells per entry: a load factor of at most 1/2 keeps linear probes short. */
#define INDEX_CELLS_PER_ENTRY 2

/* Slot indices are uint32_t and the index (2n cells) must leave EMPTY free. */
#define MAX_ENTRIES ((size_t)(UINT32_MAX - 1) / INDEX_CELLS_PER_ENTRY)

typedef struct cache_node {
    uint64_t key;
    uint32_t prev, next; /* towards head (more recent) and towards tail (less recent) */
} cache_node;

struct lore__cache {
    size_t dim;
    size_t capacity_bytes;
    size_t entry_bytes;
    uint32_t max_entries;
    uint32_t entries;
    uint32_t n_cells; /* max_entries * INDEX_CELLS_PER_ENTRY */
    uint32_t head, tail;
    cache_node *nodes;
    float *vecs;
    uint32_t *index;
    int64_t hits, misses, evictions;
};

size_t lore__cache_entry_bytes(size_t dim)
{
    const size_t fixed = sizeof(cache_node) + INDEX_CELLS_PER_ENTRY * sizeof(uint32_t);
    if (dim > (SIZE_MAX - fixed) / sizeof(float))
        return SIZE_MAX; /* saturates: no capacity can hold it */
    return dim * sizeof(float) + fixed;
}

uint64_t lore__cache_key(uint64_t model_key, const char *text, size_t len)
{
    return XXH3_64bits_withSeed(text, len, model_key);
}

lore_status lore__cache_new(size_t capacity_bytes, size_t dim, lore__cache **out)
{
    *out = NULL;
    if (dim == 0)
        return lore__fail(LORE_EINVAL, "cache: dim must be >= 1 (got 0)");
    size_t entry_bytes = lore__cache_entry_bytes(dim);
    if (entry_bytes == SIZE_MAX)
        return lore__fail(LORE_EINVAL, "cache: dim %zu is too large for one entry", dim);
    if (capacity_bytes < entry_bytes)
        return lore__fail(LORE_EINVAL,
                          "cache: capacity %zu bytes is below one entry of dim %zu (%zu bytes)",
                          capacity_bytes, dim, entry_bytes);
    size_t n = capacity_bytes / entry_bytes;
    if (n > MAX_ENTRIES)
        return lore__fail(LORE_EINVAL,
                          "cache: capacity %zu bytes holds %zu entries of dim %zu; at most %zu",
                          capacity_bytes, n, dim, MAX_ENTRIES);

    lore__cache *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->dim = dim;
    c->capacity_bytes = capacity_bytes;
    c->entry_bytes = entry_bytes;
    c->max_entries = (uint32_t)n;
    c->n_cells = (uint32_t)(n * INDEX_CELLS_PER_ENTRY);
    c->head = c->tail = NIL;
    /* n * entry_bytes <= capacity_bytes, so none of these sizes overflows. */
    c->nodes = malloc(n * sizeof *c->nodes);
    c->vecs = malloc(n * dim * sizeof *c->vecs);
    c->index = malloc((size_t)c->n_cells * sizeof *c->index);
    if (!c->nodes || !c->vecs || !c->index)
        goto fail;
    memset(c->index, 0xff, (size_t)c->n_cells * sizeof *c->index); /* all EMPTY */
    *out = c;
    return LORE_OK;

fail:
    lore__cache_free(c);
    return lore__fail(LORE_ENOMEM, "cache: out of memory for %zu entries of dim %zu (%zu bytes)", n,
                      dim, capacity_bytes);
}

void lore__cache_free(lore__cache *c)
{
    if (!c)
        return;
    free(c->index);
    free(c->vecs);
    free(c->nodes);
    free(c);
}

/* ---- index ---------------------------------------------------------------------------------- */

static uint32_t home_cell(const lore__cache *c, uint64_t key)
{
    /* splitmix64's finaliser spreads sequential or low-entropy keys over all bits. */
    key ^= key >> 30;
    key *= UINT64_C(0xbf58476d1ce4e5b9);
    key ^= key >> 27;
    key *= UINT64_C(0x94d049bb133111eb);
    key ^= key >> 31;
    /* Multiply-shift maps the top 32 bits onto [0, n_cells) without a division. */
    return (uint32_t)(((key >> 32) * (uint64_t)c->n_cells) >> 32);
}

static uint32_t next_cell(const lore__cache *c, uint32_t i)
{
    return i + 1 == c->n_cells ? 0 : i + 1;
}

/* The cell holding key, or the EMPTY cell where it would go. */
static uint32_t find_cell(const lore__cache *c, uint64_t key)
{
    uint32_t i = home_cell(c, key);
    /* Terminates: the load factor is at most 1/2, so an EMPTY cell exists. */
    while (c->index[i] != EMPTY && c->nodes[c->index[i]].key != key)
        i = next_cell(c, i);
    return i;
}

/* Empties cell i and shifts the rest of its probe chain back over the hole. */
static void remove_cell(lore__cache *c, uint32_t hole)
{
    uint32_t j = hole;
    for (;;) {
        j = next_cell(c, j);
        uint32_t slot = c->index[j];
        if (slot == EMPTY)
            break;
        uint32_t home = home_cell(c, c->nodes[slot].key);
        /* The entry at j may move to the hole only if the hole lies on its probe path,
         * home..j (cyclically): its distance from home is at least the hole's distance. */
        uint32_t from_home = j >= home ? j - home : j + c->n_cells - home;
        uint32_t from_hole = j >= hole ? j - hole : j + c->n_cells - hole;
        if (from_home >= from_hole) {
            c->index[hole] = slot;
            hole = j;
        }
    }
    c->index[hole] = EMPTY;
}

/* ---- LRU list -------------------------------------------------------------------------------- */

static void list_unlink(lore__cache *c, uint32_t s)
{
    cache_node *n = &c->nodes[s];
    if (n->prev != NIL)
        c->nodes[n->prev].next = n->next;
    else
        c->head = n->next;
    if (n->next != NIL)
        c->nodes[n->next].prev = n->prev;
    else
        c->tail = n->prev;
}

static void list_push_front(lore__cache *c, uint32_t s)
{
    cache_node *n = &c->nodes[s];
    n->prev = NIL;
    n->next = c->head;
    if (c->head != NIL)
        c->nodes[c->head].prev = s;
    else
        c->tail = s;
    c->head = s;
}

static void touch(lore__cache *c, uint32_t s)
{
    if (c->head == s)
        return;
    list_unlink(c, s);
    list_push_front(c, s);
}

/* ---- operations ------------------------------------------------------------------------------ */

bool lore__cache_get(lore__cache *c, uint64_t key, float *out)
{
    uint32_t slot = c->index[find_cell(c, key)];
    if (slot == EMPTY) {
        c->misses++;
        lore__counter_add(LORE_COUNTER_CACHE_MISSES, 1);
        return false;
    }
    memcpy(out, c->vecs + (size_t)slot * c->dim, c->dim * sizeof *out);
    touch(c, slot);
    c->hits++;
    lore__counter_add(LORE_COUNTER_CACHE_HITS, 1);
    return true;
}

bool lore__cache_contains(const lore__cache *c, uint64_t key)
{
    return c->index[find_cell(c, key)] != EMPTY;
}

void lore__cache_put(lore__cache *c, uint64_t key, const float *vec)
{
    uint32_t cell = find_cell(c, key);
    uint32_t slot = c->index[cell];
    if (slot != EMPTY) { /* present: refresh the vector and the recency */
        memcpy(c->vecs + (size_t)slot * c->dim, vec, c->dim * sizeof *vec);
        touch(c, slot);
        return;
    }
    if (c->entries < c->max_entries) {
        slot = c->entries++;
    } else {
        /* Full: the least recently used slot takes the new key. Removing its old key may
         * shift the chain that key's cell lies on, so the cell is looked up again. */
        slot = c->tail;
        list_unlink(c, slot);
        remove_cell(c, find_cell(c, c->nodes[slot].key));
        cell = find_cell(c, key);
        c->evictions++;
    }
    c->nodes[slot].key = key;
    memcpy(c->vecs + (size_t)slot * c->dim, vec, c->dim * sizeof *vec);
    c->index[cell] = slot;
    list_push_front(c, slot);
}

void lore__cache_get_stats(const lore__cache *c, lore__cache_stats *out)
{
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    out->entries = c->entries;
    out->max_entries = c->max_entries;
    out->bytes_used = (size_t)c->entries * c->entry_bytes;
    out->capacity_bytes = c->capacity_bytes;
}

void lore__cache_reset_stats(lore__cache *c)
{
    c->hits = c->misses = c->evictions = 0;
}
