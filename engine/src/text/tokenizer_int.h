/*
 * tokenizer_int.h - limits of the BERT tokenizer shared by tokenizer.c and its
 * tests.
 *
 * encode keeps the current word in fixed-size stack buffers, so the longest
 * word it can look up (max_chars_per_word) has a hard ceiling; a vocabulary
 * larger than the synthetic limit is refused so that its build stays bounded.
 */
#ifndef LORE_TEXT_TOKENIZER_INT_H
#define LORE_TEXT_TOKENIZER_INT_H

/* Highest max_chars_per_word accepted: about 14 KiB of stack per encode call. */
#define LORE__TOK_MAX_CHARS_LIMIT 1024

/* Smallest and largest synthetic vocabulary. */
#define LORE__TOK_SYNTH_MIN 1000
#define LORE__TOK_SYNTH_MAX (1u << 22)

/* Id of the first token after the BERT specials in a synthetic vocabulary:
 * [PAD] 0, [unused0..98] 1-99, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103. */
#define LORE__TOK_SYNTH_FIRST_FREE 104

#endif
