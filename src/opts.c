/* qemu-style option lists: "key=value" pairs separated by commas with ",," as an escaped comma
 * (util/qemu-option.c behaviour), qemu_strtosz size parsing, and option description tables. */
#include "config.h"
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n)
        abort();
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

struct opts *opts_new(void)
{
    struct opts *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    return o;
}

void opts_free(struct opts *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->count; i++) {
        free(o->items[i].key);
        free(o->items[i].value);
    }
    free(o->items);
    free(o);
}

struct opts *opts_clone(const struct opts *o)
{
    struct opts *c = opts_new();
    for (size_t i = 0; o && i < o->count; i++)
        opts_set(c, o->items[i].key, o->items[i].value);
    return c;
}

static struct opt_pair *opts_find(const struct opts *o, const char *key)
{
    for (size_t i = 0; o && i < o->count; i++)
        if (strcmp(o->items[i].key, key) == 0)
            return &o->items[i];
    return NULL;
}

const char *opts_get(const struct opts *o, const char *key)
{
    struct opt_pair *p = opts_find(o, key);
    return p ? p->value : NULL;
}

void opts_set(struct opts *o, const char *key, const char *value)
{
    struct opt_pair *p = opts_find(o, key);
    if (p) {
        free(p->value);
        p->value = xstrdup(value);
        return;
    }
    if (o->count == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->items = xrealloc(o->items, o->cap * sizeof(*o->items));
    }
    o->items[o->count].key = xstrdup(key);
    o->items[o->count].value = xstrdup(value);
    o->count++;
}

void opts_set_default(struct opts *o, const char *key, const char *value)
{
    if (!opts_find(o, key))
        opts_set(o, key, value);
}

bool opts_del(struct opts *o, const char *key)
{
    struct opt_pair *p = opts_find(o, key);
    if (!p)
        return false;
    size_t i = (size_t)(p - o->items);
    free(p->key);
    free(p->value);
    memmove(&o->items[i], &o->items[i + 1], (o->count - i - 1) * sizeof(*o->items));
    o->count--;
    return true;
}

bool opts_has_prefix(const struct opts *o, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; o && i < o->count; i++)
        if (strncmp(o->items[i].key, prefix, plen) == 0 && o->items[i].key[plen] == '.')
            return true;
    return false;
}

struct opts *opts_extract_prefix(struct opts *o, const char *prefix)
{
    struct opts *sub = opts_new();
    size_t plen = strlen(prefix);
    size_t i = 0;
    while (i < o->count) {
        struct opt_pair *p = &o->items[i];
        if (strncmp(p->key, prefix, plen) == 0 && p->key[plen] == '.') {
            opts_set(sub, p->key + plen + 1, p->value);
            opts_del(o, p->key);
        } else {
            i++;
        }
    }
    return sub;
}

/* Copy one element up to an unescaped ',' (or '=' when stop_at_eq), turning ",," into ','. */
static const char *get_token(const char *p, bool stop_at_eq, char **out)
{
    size_t cap = strlen(p) + 1, n = 0;
    char *buf = xrealloc(NULL, cap);
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        } else if (stop_at_eq && *p == '=') {
            break;
        }
        buf[n++] = *p++;
    }
    buf[n] = '\0';
    *out = buf;
    return p;
}

int opts_parse(struct opts *o, const char *str, const char *implied_key, struct error **errp)
{
    const char *p = str;
    bool first = true;
    while (*p) {
        char *key = NULL, *value = NULL;
        const char *eq_or_end = get_token(p, true, &key);
        if (*eq_or_end == '=') {
            p = get_token(eq_or_end + 1, false, &value);
        } else {
            p = eq_or_end;
            if (first && implied_key) {
                value = key;
                key = xstrdup(implied_key);
            } else if (!strcmp(key, "help") || !strcmp(key, "?")) {
                free(key);
                key = xstrdup("help");
                value = xstrdup("on");
            } else {
                /* qemu: a bare "flag" means flag=on */
                value = xstrdup("on");
            }
        }
        if (!*key) {
            error_setg(errp, "Invalid option name ''");
            free(key);
            free(value);
            return -EINVAL;
        }
        opts_set(o, key, value);
        free(key);
        free(value);
        first = false;
        if (*p == ',')
            p++;
    }
    return 0;
}

char *opts_to_string(const struct opts *o)
{
    size_t cap = 1;
    for (size_t i = 0; i < o->count; i++)
        cap += 2 * (strlen(o->items[i].key) + strlen(o->items[i].value)) + 2;
    char *s = xrealloc(NULL, cap), *w = s;
    for (size_t i = 0; i < o->count; i++) {
        if (i)
            *w++ = ',';
        for (const char *k = o->items[i].key; *k; k++)
            *w++ = *k;
        *w++ = '=';
        for (const char *v = o->items[i].value; *v; v++) {
            if (*v == ',')
                *w++ = ',';
            *w++ = *v;
        }
    }
    *w = '\0';
    return s;
}

static uint64_t suffix_multiplier(char c)
{
    switch (c) {
    case 'b': case 'B': return 1;
    case 'k': case 'K': return 1ULL << 10;
    case 'm': case 'M': return 1ULL << 20;
    case 'g': case 'G': return 1ULL << 30;
    case 't': case 'T': return 1ULL << 40;
    case 'p': case 'P': return 1ULL << 50;
    case 'e': case 'E': return 1ULL << 60;
    default: return 0;
    }
}

int parse_size_full(const char *str, const char **end, uint64_t default_unit, uint64_t *out)
{
    const char *p = str;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '-' || *p == '+')
        return -EINVAL;
    bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    errno = 0;
    char *endp;
    unsigned long long val = strtoull(p, &endp, hex ? 16 : 10);
    if (endp == p || (hex && endp == p + 2))
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    double fraction = 0;
    if (*endp == '.') {
        if (hex)
            return -EINVAL;
        char *fend;
        /* parse "0.xyz" so that the fraction is exact to double precision */
        const char *digits = endp + 1;
        if (!isdigit((unsigned char)*digits))
            return -EINVAL;
        char tmp[64] = "0.";
        size_t nd = strspn(digits, "0123456789");
        if (nd > sizeof(tmp) - 3)
            nd = sizeof(tmp) - 3;
        memcpy(tmp + 2, digits, nd);
        tmp[2 + nd] = '\0';
        fraction = strtod(tmp, &fend);
        endp = (char *)digits + strspn(digits, "0123456789");
    }
    uint64_t mul = suffix_multiplier(*endp);
    if (mul)
        endp++;
    else
        mul = default_unit;
    if (mul == 1 && fraction != 0)
        return -EINVAL;
    if (!end && *endp)
        return -EINVAL;
    uint64_t result;
    if (__builtin_mul_overflow((uint64_t)val, mul, &result))
        return -ERANGE;
    if (fraction != 0) {
        double extra = fraction * (double)mul;
        if ((double)result + extra >= 18446744073709551616.0)
            return -ERANGE;
        result += (uint64_t)extra;
    }
    if (end)
        *end = endp;
    *out = result;
    return 0;
}

int parse_size(const char *str, uint64_t *out)
{
    return parse_size_full(str, NULL, 1, out);
}

int parse_bool(const char *str, bool *out)
{
    if (!strcmp(str, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(str, "off")) {
        *out = false;
        return 0;
    }
    return -EINVAL;
}

int opts_get_size(const struct opts *o, const char *key, uint64_t *out, struct error **errp)
{
    const char *v = opts_get(o, key);
    if (!v)
        return 0;
    int ret = parse_size(v, out);
    if (ret == -ERANGE) {
        error_setg(errp, "Value '%s' is out of range for parameter '%s'", v, key);
        return ret;
    }
    if (ret < 0) {
        error_setg(errp,
                   "Parameter '%s' expects a non-negative number below 2^64\n"
                   "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                   "and exabytes, respectively.",
                   key);
        return ret;
    }
    return 0;
}

int opts_get_bool(const struct opts *o, const char *key, bool *out, struct error **errp)
{
    const char *v = opts_get(o, key);
    if (!v)
        return 0;
    if (parse_bool(v, out) < 0) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", key);
        return -EINVAL;
    }
    return 0;
}

int opts_get_number(const struct opts *o, const char *key, uint64_t *out, struct error **errp)
{
    const char *v = opts_get(o, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end || errno || strchr(v, '-')) {
        error_setg(errp, "Parameter '%s' expects a number", key);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

const struct opt_desc *opt_desc_find(const struct opt_desc *descs, const char *name)
{
    for (; descs && descs->name; descs++)
        if (!strcmp(descs->name, name))
            return descs;
    return NULL;
}

int opts_validate(const struct opts *o, const struct opt_desc *descs, struct error **errp)
{
    for (size_t i = 0; i < o->count; i++) {
        if (!opt_desc_find(descs, o->items[i].key)) {
            error_setg(errp, "Invalid parameter '%s'", o->items[i].key);
            return -EINVAL;
        }
    }
    return 0;
}

int opts_check_types(const struct opts *o, const struct opt_desc *descs, struct error **errp)
{
    for (size_t i = 0; i < o->count; i++) {
        const struct opt_desc *d = opt_desc_find(descs, o->items[i].key);
        if (!d)
            continue;
        int ret = 0;
        uint64_t n;
        bool b;
        switch (d->type) {
        case OPT_SIZE: ret = opts_get_size(o, d->name, &n, errp); break;
        case OPT_BOOL: ret = opts_get_bool(o, d->name, &b, errp); break;
        case OPT_NUMBER: ret = opts_get_number(o, d->name, &n, errp); break;
        case OPT_STRING: break;
        }
        if (ret < 0)
            return ret;
    }
    return 0;
}

const char *opt_type_name(enum opt_type type)
{
    switch (type) {
    case OPT_STRING: return "str";
    case OPT_BOOL: return "bool (on/off)";
    case OPT_NUMBER: return "num";
    case OPT_SIZE: return "size";
    }
    return "str";
}

void opt_desc_print_help(const struct opt_desc *descs, FILE *out)
{
    for (; descs && descs->name; descs++) {
        char line[256];
        int n = snprintf(line, sizeof(line), "  %s=<%s>", descs->name, opt_type_name(descs->type));
        if (descs->help) {
            fprintf(out, "%s%*s - %s\n", line, n < 24 ? 24 - n : 0, "", descs->help);
        } else {
            fprintf(out, "%s\n", line);
        }
    }
}
