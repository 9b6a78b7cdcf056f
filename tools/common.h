/* Shared pieces of the flatimg subcommands: qemu-img's usage errors, image opening with its
 * messages, --object handling and number parsing. */
#ifndef FLATIMG_TOOLS_COMMON_H
#define FLATIMG_TOOLS_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "node.h"

/* "prog: msg\nTry 'prog --help' for more information" and exit(1). */
void error_exit(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* getopt_long's ':' and '?' results, reported as qemu-img does (exit 1). */
void missing_argument(const char *option) __attribute__((noreturn));
void unrecognized_option(const char *option) __attribute__((noreturn));
/* Handle ':' / '?' / 'h' returned by getopt_long for a subcommand. */
void common_getopt_error(int c, char **argv);
void help(void) __attribute__((noreturn));

/* Parse a number with size suffixes as qemu-img's cvtnum ("Invalid %s specified..."); -1 on error
 * (message printed). */
int64_t cvtnum(const char *name, const char *value);
int64_t cvtnum_full(const char *name, const char *value, int64_t min, int64_t max);

/* Join repeated -o lists as qemu-img does; NULL (message printed) on an invalid list. */
char *accumulate_options(char *options, const char *arg);

/* --object: exits with the message on error. */
void add_object_or_exit(const char *def);

/* Open an image as qemu-img's img_open does; prints "Could not open '...': ..." and returns NULL
 * on failure. `filename` is an option string when image_opts is set. */
struct node *img_open(bool image_opts, const char *filename, const char *fmt, int flags,
                      bool force_share);
/* Open filename (format fmt, or probed) with extra driver options such as key secrets (may be
 * NULL); prints qemu-img's "Could not open" message on failure. */
struct node *img_open_with(const char *filename, const char *fmt, const struct opts *opts,
                           int flags);

/* -t/-T: exits on an invalid mode with qemu-img's message. */
int parse_cache_or_exit(const char *mode, int *flags);

/* The long options every command shares. */
enum {
    OPTION_OUTPUT = 256,
    OPTION_BACKING_CHAIN,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_PATTERN,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
    OPTION_TARGET_IMAGE_OPTS,
    OPTION_SIZE,
    OPTION_PREALLOCATION,
    OPTION_SHRINK,
    OPTION_SALVAGE,
    OPTION_TARGET_IS_ZERO,
    OPTION_ADD,
    OPTION_REMOVE,
    OPTION_CLEAR,
    OPTION_ENABLE,
    OPTION_DISABLE,
    OPTION_MERGE,
    OPTION_BITMAPS,
    OPTION_FORCE,
    OPTION_SKIP_BROKEN,
    OPTION_START_OFFSET,
    OPTION_MAX_LENGTH,
};

enum output_format { OFORMAT_HUMAN, OFORMAT_JSON };
/* --output=human|json; exits with qemu-img's message otherwise. */
enum output_format parse_output_format(const char *arg);

/* Each subcommand: argv[0] is the command name. */
#define COMMAND(name) int cmd_##name(int argc, char **argv);
#include "commands.h"
#undef COMMAND

#endif
