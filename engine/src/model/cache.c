/* cache.c - placeholder until its module lands. */
