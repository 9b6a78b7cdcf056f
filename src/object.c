/* Secrets given with --object, kept by id for the lifetime of the program; semantics of qemu's
 * "secret" object (data= inline or file=, format raw or base64). A process-wide table like the
 * driver registry: objects are program configuration, created in main() before any image opens. */
#include "config.h"
#include "object.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

struct secret {
    char *id;
    uint8_t *data;
    size_t len;
};

static struct secret *secrets;
static size_t nsecrets;

static int base64_decode(const char *in, uint8_t **out, size_t *outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in);
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return -ENOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') {
            pad++;
            continue;
        }
        const char *p = c ? strchr(tbl, c) : NULL;
        if (!p || pad) {
            free(buf);
            return -EINVAL;
        }
        acc = acc << 6 | (uint32_t)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    if ((n % 4) != 0) {
        free(buf);
        return -EINVAL;
    }
    *out = buf;
    *outlen = o;
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len, struct error **errp)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        error_setg(errp, "Unable to read %s: Failed to open file \xe2\x80\x9c%s\xe2\x80\x9d: %s", path,
                   path, strerror(err));
        return -err;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -ENOMEM;
    *out = buf;
    *len = n;
    return 0;
}

int object_add(const char *def, struct error **errp)
{
    struct opts *o = opts_new();
    int ret = opts_parse(o, def, "qom-type", errp);
    if (ret < 0)
        goto out;
    const char *type = opts_get(o, "qom-type");
    const char *id = opts_get(o, "id");
    const char *data = opts_get(o, "data");
    const char *file = opts_get(o, "file");
    const char *format = opts_get(o, "format");
    ret = -EINVAL;
    if (!type) {
        error_setg(errp, "Parameter 'qom-type' is missing");
        goto out;
    }
    if (strcmp(type, "secret")) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%s'", type);
        goto out;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        goto out;
    }
    for (size_t i = 0; i < o->count; i++) {
        const char *k = o->items[i].key;
        if (strcmp(k, "qom-type") && strcmp(k, "id") && strcmp(k, "data") && strcmp(k, "file") &&
            strcmp(k, "format") && strcmp(k, "keyid") && strcmp(k, "iv")) {
            error_setg(errp, "Property 'secret.%s' not found", k);
            goto out;
        }
    }
    if (format && strcmp(format, "raw") && strcmp(format, "base64")) {
        error_setg(errp, "Parameter 'format' does not accept value '%s'", format);
        goto out;
    }
    for (size_t i = 0; i < nsecrets; i++) {
        if (!strcmp(secrets[i].id, id)) {
            error_setg(errp, "attempt to add duplicate property '%s' to object (type 'container')", id);
            goto out;
        }
    }
    if (data && file) {
        error_setg(errp, "'file' and 'data' are mutually exclusive");
        goto out;
    }
    if (!data && !file) {
        error_setg(errp, "Either 'file' or 'data' must be provided");
        goto out;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (file) {
        ret = read_file(file, &bytes, &len, errp);
        if (ret < 0)
            goto out;
    } else {
        len = strlen(data);
        bytes = malloc(len + 1);
        if (!bytes)
            abort();
        memcpy(bytes, data, len);
    }
    if (format && !strcmp(format, "base64")) {
        uint8_t *dec;
        size_t declen;
        bytes[len] = '\0';
        if (base64_decode((char *)bytes, &dec, &declen) < 0) {
            free(bytes);
            error_setg(errp, "Base64 data contains invalid characters");
            ret = -EINVAL;
            goto out;
        }
        free(bytes);
        bytes = realloc(dec, declen + 1);
        len = declen;
    }
    bytes[len] = '\0';
    struct secret *ns = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
    if (!ns)
        abort();
    secrets = ns;
    secrets[nsecrets].id = strdup(id);
    secrets[nsecrets].data = bytes;
    secrets[nsecrets].len = len;
    nsecrets++;
    ret = 0;
out:
    opts_free(o);
    return ret;
}

int secret_lookup(const char *id, const uint8_t **data, size_t *len, struct error **errp)
{
    for (size_t i = 0; i < nsecrets; i++) {
        if (!strcmp(secrets[i].id, id)) {
            *data = secrets[i].data;
            *len = secrets[i].len;
            return 0;
        }
    }
    error_setg(errp, "No secret with id '%s'", id);
    return -ENOENT;
}

int secret_lookup_required(const char *option, const char *id, const uint8_t **data, size_t *len,
                           struct error **errp)
{
    if (!id) {
        error_setg(errp, "Parameter '%s' is required for cipher", option);
        return -EINVAL;
    }
    return secret_lookup(id, data, len, errp) < 0 ? -EINVAL : 0;
}

void object_clear_all(void)
{
    for (size_t i = 0; i < nsecrets; i++) {
        free(secrets[i].id);
        free(secrets[i].data);
    }
    free(secrets);
    secrets = NULL;
    nsecrets = 0;
}
