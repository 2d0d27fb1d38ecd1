/* ivf.c - placeholder until its module lands. */
