/*
 * test_snapshot_mem.h - index snapshots to and from memory, for the index
 * tests (round trips, truncation, flipped bytes). Include after <cmocka.h>
 * and "lore/lore.h".
 */
#ifndef LORE_TEST_SNAPSHOT_MEM_H
#define LORE_TEST_SNAPSHOT_MEM_H

#include <stdlib.h>
#include <string.h>

typedef struct membuf {
    unsigned char *data;
    size_t len, cap, pos;
} membuf;

static inline lore_status mem_write(void *ctx, const void *buf, size_t n)
{
    membuf *m = ctx;
    if (m->len + n > m->cap) {
        size_t cap = (m->len + n) * 2;
        unsigned char *p = realloc(m->data, cap);
        if (!p)
            return LORE_ENOMEM;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, n);
    m->len += n;
    return LORE_OK;
}

/* A short read is what a truncated snapshot looks like. */
static inline lore_status mem_read(void *ctx, void *buf, size_t n)
{
    membuf *m = ctx;
    if (n > m->len - m->pos)
        return LORE_ECORRUPT;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return LORE_OK;
}

/* The snapshot of ix; the caller frees .data. */
static inline membuf save_to_memory(const lore_index *ix)
{
    membuf m = {0};
    lore_writer w = {mem_write, &m};
    assert_int_equal(lore_index_save(ix, &w), LORE_OK);
    return m;
}

static inline lore_status load_from(const unsigned char *data, size_t len, lore_index **out)
{
    membuf m = {(unsigned char *)data, len, len, 0};
    lore_reader r = {mem_read, &m};
    return lore_index_load(&r, out);
}

#endif
