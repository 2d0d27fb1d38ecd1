/* embedder.c - placeholder until its module lands. */
