/* pool.c - placeholder until its module lands. */
