/* Options in qemu's "key=value,key2=value2" syntax (",," escapes a comma), kept as an ordered list
 * of string pairs; dotted keys ("file.filename") address child nodes. Also qemu's size syntax and
 * the option description tables behind "-o help". */
#ifndef FLATIMG_OPTS_H
#define FLATIMG_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

struct opt_pair {
    char *key;
    char *value;
};

struct opts {
    struct opt_pair *items;
    size_t count;
    size_t cap;
};

struct opts *opts_new(void);
void opts_free(struct opts *o);
struct opts *opts_clone(const struct opts *o);

/* Parse "a=1,b=2" into o (later keys replace earlier ones). A first element without '=' is stored
 * under implied_key when one is given ("secret,id=x" with implied_key "qom-type"); otherwise such an
 * element is an error, unless it is "help" or "?" which are stored as help=on. */
int opts_parse(struct opts *o, const char *str, const char *implied_key, struct error **errp);

const char *opts_get(const struct opts *o, const char *key);
void opts_set(struct opts *o, const char *key, const char *value);
/* Set only if the key is absent. */
void opts_set_default(struct opts *o, const char *key, const char *value);
bool opts_del(struct opts *o, const char *key);
/* Move every "prefix.rest" key out of o into a new list as "rest". */
struct opts *opts_extract_prefix(struct opts *o, const char *prefix);
bool opts_has_prefix(const struct opts *o, const char *prefix);
/* Render as "k=v,k2=v2" with commas in values doubled; caller frees. */
char *opts_to_string(const struct opts *o);

/* Typed getters; *out is left alone when the key is absent (return 0). On a bad value they fail with
 * qemu's messages ("Parameter 'x' expects ..."). */
int opts_get_size(const struct opts *o, const char *key, uint64_t *out, struct error **errp);
int opts_get_bool(const struct opts *o, const char *key, bool *out, struct error **errp);
int opts_get_number(const struct opts *o, const char *key, uint64_t *out, struct error **errp);

/* qemu_strtosz: decimal or 0x-hex, optional fraction with a unit, suffix b/B k/K m/M g/G t/T p/P e/E;
 * default_unit applies when there is no suffix (1 for bytes, 1 << 20 for MiB). Returns 0, -EINVAL
 * (syntax) or -ERANGE (above 2^64 - 1). With end non-NULL trailing text is allowed. */
int parse_size_full(const char *str, const char **end, uint64_t default_unit, uint64_t *out);
int parse_size(const char *str, uint64_t *out);
/* Parse "on"/"off" (also yes/no, true/false as qemu's keyval does not; only on/off accepted). */
int parse_bool(const char *str, bool *out);

/* Option descriptions: what a driver accepts for create/amend, and what "-o help" prints. */
enum opt_type { OPT_STRING, OPT_BOOL, OPT_NUMBER, OPT_SIZE };

struct opt_desc {
    const char *name;
    enum opt_type type;
    const char *help;
    const char *def_value_str; /* printed in "Formatting ..." when the option is defaulted */
};

const struct opt_desc *opt_desc_find(const struct opt_desc *descs, const char *name);
/* Fail with "Invalid parameter 'x'" for the first key of o not described in descs. */
int opts_validate(const struct opts *o, const struct opt_desc *descs, struct error **errp);
/* Check that every described key has a well-formed value of its type. */
int opts_check_types(const struct opts *o, const struct opt_desc *descs, struct error **errp);
/* One line per option as qemu-img prints it: "  name=<type>   - help" (padded to column 24). */
void opt_desc_print_help(const struct opt_desc *descs, FILE *out);
const char *opt_type_name(enum opt_type type);

#endif
