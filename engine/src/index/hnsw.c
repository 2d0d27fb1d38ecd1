/* hnsw.c - placeholder until its module lands. */
