/* tokenizer.c - placeholder until its module lands. */
