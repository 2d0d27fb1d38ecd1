/* nn.c - placeholder until its module lands. */
