/* weights.c - placeholder until its module lands. */
