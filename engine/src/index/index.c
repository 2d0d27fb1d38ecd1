/* index.c - placeholder until its module lands. */
