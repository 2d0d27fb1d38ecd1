/*
 * lore/chunker.h - splits a document into overlapping chunks for embedding.
 *
 * A chunk is a byte range [begin, end) of the source text; the source is never
 * copied or changed. Windows are measured in characters (Unicode code points;
 * each byte of an invalid UTF-8 sequence counts as one character) or in tokens
 * of a tokenizer. A window ends, in order of preference, after the last
 * sentence end (". ", "! ", "? ", a line break) inside the last
 * boundary_fraction of the window, else after the last whitespace there, else
 * exactly at the window's length; the cut never falls inside a UTF-8 sequence.
 * The next window starts about `overlap` units before the previous end, moved
 * forward to the start of a word, and always after the previous start, so
 * every call finishes. Leading and trailing whitespace is trimmed from every
 * chunk; a text of whitespace only has no chunks.
 *
 * Chunking is a pure function of (params, text): thread-safe, deterministic.
 */
#ifndef LORE_CHUNKER_H
#define LORE_CHUNKER_H

#include <stddef.h>

#include "lore/status.h"
#include "lore/tokenizer.h"

typedef enum lore_chunk_unit {
    LORE_CHUNK_CHARS = 0,  /* windows of Unicode characters */
    LORE_CHUNK_TOKENS = 1, /* windows of WordPiece tokens (needs a tokenizer) */
} lore_chunk_unit;

typedef struct lore_chunker_params {
    lore_chunk_unit unit;
    size_t size;              /* window length in units, >= 1 (default 500 characters) */
    size_t overlap;           /* units shared by neighbouring chunks, < size (default 60) */
    double boundary_fraction; /* tail of the window searched for a boundary, 0..1 (default 0.2) */
    const lore_tokenizer *tokenizer; /* LORE_CHUNK_TOKENS only; borrowed, not owned */
} lore_chunker_params;

/* One chunk: bytes [begin, end) of the source, end > begin. */
typedef struct lore_chunk {
    size_t begin, end;
} lore_chunk;

/* A growable list of chunks owned by the caller; zero-initialise it, reuse it, free it. */
typedef struct lore_chunk_list {
    lore_chunk *items;
    size_t n;   /* chunks in the list */
    size_t cap; /* allocated slots */
} lore_chunk_list;

/* Defaults: 500 characters, 60 overlap, boundary fraction 0.2. */
lore_chunker_params lore_chunker_default_params(void);

/*
 * Splits text (len bytes, need not be NUL-terminated; NULL allowed when len is
 * 0) into chunks, replacing the contents of out (its storage grows as needed
 * and is kept for the next call). In token mode the text is tokenized in
 * bounded windows, so memory does not grow with the document.
 * Returns LORE_EINVAL (bad params: size 0, overlap >= size, fraction out of
 * range, token mode without a tokenizer; in token mode, invalid UTF-8 under a
 * strict tokenizer, the message giving the byte offset), LORE_ENOMEM (out keeps
 * n = 0). In token mode a word the tokenizer makes one [UNK] (longer than its
 * max_chars_per_word) is one token however many bytes it has.
 */
lore_status lore_chunker_split(const lore_chunker_params *params, const char *text, size_t len,
                               lore_chunk_list *out);

/* Frees the list's storage and zeroes it; NULL is allowed. */
void lore_chunk_list_free(lore_chunk_list *list);

#endif
