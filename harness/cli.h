/*
 * cli.h - lore-bench's command line: subcommands, options, exit codes.
 */
#ifndef BENCH_CLI_H
#define BENCH_CLI_H

/* Runs lore-bench with argv; returns the process exit code (util.h BENCH_EXIT_*). */
int bench_cli_main(int argc, char **argv);

#endif
