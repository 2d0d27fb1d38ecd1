/* topk.c - placeholder until its module lands. */
