/*
 * main.c - lore-bench's entry point.
 */
#include "cli.h"

int main(int argc, char **argv)
{
    return bench_cli_main(argc, argv);
}
