/* qemu's JSON rendering rules (qobject/qjson.c behaviour): pretty printing with 4-space indents,
 * "key": value pairs, strings escaped as qemu does, and QDict key order: bucket index of the
 * tdb hash modulo 512, the most recently inserted key first within a bucket. */
#include "config.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define QDICT_BUCKETS 512

unsigned json_qdict_bucket(const char *key)
{
    unsigned value = 0x238F13AFu * (unsigned)strlen(key);
    for (unsigned i = 0; key[i]; i++)
        value = value + ((unsigned)(unsigned char)key[i] << (i * 5 % 24));
    return (1103515243u * value + 12345u) % QDICT_BUCKETS;
}

struct keyslot {
    const char *key;
    unsigned bucket;
    size_t index;
};

static int keyslot_cmp(const void *a, const void *b)
{
    const struct keyslot *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    /* within a bucket qemu inserts at the head: later keys come first */
    return x->index > y->index ? -1 : (x->index < y->index ? 1 : 0);
}

const char **json_qdict_keys(json_object *obj, size_t *count)
{
    size_t n = (size_t)json_object_object_length(obj), i = 0;
    struct keyslot *slots = calloc(n ? n : 1, sizeof(*slots));
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!slots || !keys)
        abort();
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        slots[i].key = key;
        slots[i].bucket = json_qdict_bucket(key);
        slots[i].index = i;
        i++;
    }
    qsort(slots, n, sizeof(*slots), keyslot_cmp);
    for (i = 0; i < n; i++)
        keys[i] = slots[i].key;
    free(slots);
    *count = n;
    return keys;
}

struct strbuf {
    char *s;
    size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(struct strbuf *b, const char *fmt, ...) PRINTF_FMT(2, 3);
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
}

/* Decode one UTF-8 sequence; invalid bytes come back as U+FFFD, as qemu does. */
static unsigned utf8_next(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    unsigned c = *p++, need = 0, cp;
    if (c < 0x80) {
        *pp = p;
        return c;
    }
    if ((c & 0xE0) == 0xC0) {
        need = 1;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3;
        cp = c & 0x07;
    } else {
        *pp = p;
        return 0xFFFD;
    }
    for (unsigned i = 0; i < need; i++) {
        if ((*p & 0xC0) != 0x80) {
            *pp = p;
            return 0xFFFD;
        }
        cp = cp << 6 | (*p++ & 0x3F);
    }
    *pp = p;
    return cp;
}

static void sb_json_string(struct strbuf *b, const char *s)
{
    sb_str(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = utf8_next(&p);
        switch (c) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        default:
            if (c >= 0x20 && c < 0x7F) {
                char ch = (char)c;
                sb_add(b, &ch, 1);
            } else if (c >= 0x10000) {
                c -= 0x10000;
                sb_printf(b, "\\u%04X\\u%04X", 0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF));
            } else {
                sb_printf(b, "\\u%04X", c);
            }
        }
    }
    sb_str(b, "\"");
}

static void sb_indent(struct strbuf *b, int pretty, int level)
{
    if (!pretty)
        return;
    sb_str(b, "\n");
    for (int i = 0; i < level; i++)
        sb_str(b, "    ");
}

static void to_json(struct strbuf *b, json_object *obj, int pretty, int level)
{
    switch (json_object_get_type(obj)) {
    case json_type_null:
        sb_str(b, "null");
        break;
    case json_type_boolean:
        sb_str(b, json_object_get_boolean(obj) ? "true" : "false");
        break;
    case json_type_int:
        if (json_object_get_int64(obj) == INT64_MAX && json_object_get_uint64(obj) > INT64_MAX)
            sb_printf(b, "%" PRIu64, json_object_get_uint64(obj));
        else
            sb_printf(b, "%" PRId64, json_object_get_int64(obj));
        break;
    case json_type_double:
        sb_printf(b, "%.17g", json_object_get_double(obj));
        break;
    case json_type_string:
        sb_json_string(b, json_object_get_string(obj));
        break;
    case json_type_object: {
        size_t n;
        const char **keys = json_qdict_keys(obj, &n);
        sb_str(b, "{");
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_str(b, pretty ? "," : ", ");
            sb_indent(b, pretty, level + 1);
            sb_json_string(b, keys[i]);
            sb_str(b, ": ");
            to_json(b, json_object_object_get(obj, keys[i]), pretty, level + 1);
        }
        if (n)
            sb_indent(b, pretty, level);
        sb_str(b, "}");
        free(keys);
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(obj);
        sb_str(b, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_str(b, pretty ? "," : ", ");
            sb_indent(b, pretty, level + 1);
            to_json(b, json_object_array_get_idx(obj, i), pretty, level + 1);
        }
        sb_indent(b, pretty, level); /* qemu breaks the line even in an empty list */
        sb_str(b, "]");
        break;
    }
    }
}

char *json_to_qemu_string(json_object *obj, int pretty)
{
    struct strbuf b = { 0 };
    sb_str(&b, "");
    to_json(&b, obj, pretty, 0);
    return b.s;
}

void json_print_qemu(FILE *out, json_object *obj)
{
    char *s = json_to_qemu_string(obj, 1);
    fputs(s, out);
    free(s);
}

static void flatten(struct opts *o, const char *prefix, json_object *obj)
{
    json_object_object_foreach(obj, key, val)
    {
        char *full = NULL;
        if (asprintf(&full, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
            abort();
        switch (json_object_get_type(val)) {
        case json_type_object:
            flatten(o, full, val);
            break;
        case json_type_boolean:
            opts_set(o, full, json_object_get_boolean(val) ? "on" : "off");
            break;
        case json_type_null:
            opts_set(o, full, "null");
            break;
        default:
            opts_set(o, full, json_object_get_string(val));
            break;
        }
        free(full);
    }
}

int jsonfile_parse(const char *text, struct opts **out, struct error **errp)
{
    enum json_tokener_error jerr;
    json_object *obj = json_tokener_parse_verbose(text, &jerr);
    if (!obj) {
        /* qemu's parser words the common truncated-input case this way */
        error_setg(errp, "Could not parse the JSON options: %s",
                   (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof)
                       ? "JSON parse error, premature EOI"
                                                 : json_tokener_error_desc(jerr));
        return -EINVAL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        error_setg(errp, "Invalid JSON object given");
        return -EINVAL;
    }
    *out = opts_new();
    flatten(*out, "", obj);
    json_object_put(obj);
    return 0;
}

static void dump_value(FILE *out, json_object *val, int indent, const char *name);

static void human_key(char *dst, size_t cap, const char *key)
{
    size_t i = 0;
    for (; key[i] && i + 1 < cap; i++)
        dst[i] = key[i] == '-' ? ' ' : key[i];
    dst[i] = '\0';
}

static void dump_value(FILE *out, json_object *val, int indent, const char *name)
{
    switch (json_object_get_type(val)) {
    case json_type_object: {
        fprintf(out, "%*s%s:\n", indent * 4, "", name);
        json_dump_human(out, val, indent + 1);
        break;
    }
    case json_type_array: {
        fprintf(out, "%*s%s:\n", indent * 4, "", name);
        size_t n = json_object_array_length(val);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(val, i);
            if (json_object_is_type(e, json_type_object) || json_object_is_type(e, json_type_array)) {
                fprintf(out, "%*s[%zu]:\n", (indent + 1) * 4, "", i);
                if (json_object_is_type(e, json_type_object))
                    json_dump_human(out, e, indent + 2);
            } else {
                char *s = json_to_qemu_string(e, 0);
                if (json_object_is_type(e, json_type_string))
                    fprintf(out, "%*s[%zu]: %s\n", (indent + 1) * 4, "", i, json_object_get_string(e));
                else
                    fprintf(out, "%*s[%zu]: %s\n", (indent + 1) * 4, "", i, s);
                free(s);
            }
        }
        break;
    }
    case json_type_string:
        fprintf(out, "%*s%s: %s\n", indent * 4, "", name, json_object_get_string(val));
        break;
    default: {
        char *s = json_to_qemu_string(val, 0);
        fprintf(out, "%*s%s: %s\n", indent * 4, "", name, s);
        free(s);
        break;
    }
    }
}

void json_dump_human(FILE *out, json_object *obj, int indent)
{
    size_t n;
    const char **keys = json_qdict_keys(obj, &n);
    for (size_t i = 0; i < n; i++) {
        char name[256];
        human_key(name, sizeof(name), keys[i]);
        dump_value(out, json_object_object_get(obj, keys[i]), indent, name);
    }
    free(keys);
}
