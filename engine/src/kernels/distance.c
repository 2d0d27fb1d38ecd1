/* distance.c - placeholder until its module lands. */
