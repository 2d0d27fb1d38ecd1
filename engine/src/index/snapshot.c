/* snapshot.c - placeholder until its module lands. */
