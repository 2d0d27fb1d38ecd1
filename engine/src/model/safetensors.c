/* safetensors.c - placeholder until its module lands. */
