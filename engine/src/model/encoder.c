/* encoder.c - placeholder until its module lands. */
