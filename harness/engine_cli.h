/*
 * engine_cli.h - `lore-bench ingest` and `lore-bench query`: the engine's ingest
 * and query pipelines from the command line (see engine_cli.c).
 */
#ifndef BENCH_ENGINE_CLI_H
#define BENCH_ENGINE_CLI_H

/* `lore-bench ingest DB PATH... [options]`; argv[1] is "ingest". Returns the exit code. */
int bench_cli_ingest(int argc, char **argv);

/* `lore-bench query DB TEXT [options]`; argv[1] is "query". Returns the exit code. */
int bench_cli_query(int argc, char **argv);

#endif
