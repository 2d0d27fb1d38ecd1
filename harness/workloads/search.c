/* search.c - placeholder until its module lands. */
