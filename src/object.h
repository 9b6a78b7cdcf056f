/* --object definitions (qemu's user-creatable objects): only "secret" exists, holding keys that
 * drivers (luks, encrypted qcow2) look up by id. */
#ifndef FLATIMG_OBJECT_H
#define FLATIMG_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Parse "secret,id=ID,data=...|file=...[,format=raw|base64]" and register it. */
int object_add(const char *def, struct error **errp);
/* The secret's bytes (not NUL-terminated; a NUL is appended for convenience). */
int secret_lookup(const char *id, const uint8_t **data, size_t *len, struct error **errp);
/* The secret that option OPTION names (id may be NULL: qemu's "Parameter 'OPTION' is required
 * for cipher"); -EINVAL on either error. */
int secret_lookup_required(const char *option, const char *id, const uint8_t **data, size_t *len,
                           struct error **errp);
void object_clear_all(void);

#endif
