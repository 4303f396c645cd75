/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell.h - the serial shell. SHELL_COMMAND() registers a command from any
 * file (the .shell_cmds section, gathered by the linker script); BENCH()
 * does the same for `bench NAME`.
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

#define SHELL_COMMAND(id, cname, cusage, chelp, cfn)                                 \
    static const struct shell_cmd shell_cmd_##id = {cname, cusage, chelp, cfn};      \
    static const struct shell_cmd *const shell_cmd_##id##_reg                        \
        __attribute__((section(".shell_cmds"), used)) = &shell_cmd_##id

/* Benchmarks runnable with `bench NAME [args]`. */
struct bench_entry {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
};

#define BENCH(id, bname, bhelp, bfn)                                                  \
    static const struct bench_entry bench_entry_##id = {bname, bhelp, bfn};          \
    static const struct bench_entry *const bench_entry_##id##_reg                    \
        __attribute__((section(".benches"), used)) = &bench_entry_##id

/* Parse an unsigned number (decimal or 0x hex) in [0, max]; prints the error. */
int shell_parse_u64(const char *what, const char *s, unsigned long long max,
                    unsigned long long *out);

#endif
