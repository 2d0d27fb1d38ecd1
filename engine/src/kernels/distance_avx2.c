/* distance_avx2.c - placeholder until its module lands. */
