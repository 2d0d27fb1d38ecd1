/* vecdata.c - placeholder until its module lands. */
