/* flat.c - placeholder until its module lands. */
