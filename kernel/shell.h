/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell.h - the serial shell. Commands are rows in the table in kernel/shell.c.
 * A command gets argc/argv (argv[0] is the command) and returns 0 or prints
 * one "error: ..." line and returns non-zero; the shell always carries on.
 */
#ifndef RINGLOOP_SHELL_H
#define RINGLOOP_SHELL_H

struct shell_cmd {
    const char *name;
    const char *usage;
    const char *help;
    int (*fn)(int argc, char **argv);
};

#define SHELL_PROMPT "ringloop> "
#define SHELL_MAX_LINE 256
#define SHELL_MAX_ARGS 16

void shell_run(void) __attribute__((noreturn));
int shell_exec(char *line);

/* Benchmarks runnable with `bench NAME`, table in kernel/bench.c. */
struct bench_entry {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
};

#endif
