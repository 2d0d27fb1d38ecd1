/* distance_avx512.c - placeholder until its module lands. */
