/* JSON in qemu's exact layout: json-c objects printed with 4-space indentation and with dict keys
 * in the order qemu's QDict iterates them (hash buckets), plus "json:{...}" pseudo-filenames
 * flattened into dotted options. */
#ifndef FLATIMG_JSON_H
#define FLATIMG_JSON_H

#include <json-c/json.h>
#include <stdio.h>

#include "error.h"
#include "opts.h"

/* Print obj as qemu's qobject_to_json_pretty does (no trailing newline). */
void json_print_qemu(FILE *out, json_object *obj);
/* Same into a malloc'd string. */
char *json_to_qemu_string(json_object *obj, int pretty);
/* Keys of a json object in qemu's QDict iteration order; caller frees the array (not the keys). */
const char **json_qdict_keys(json_object *obj, size_t *count);
/* qemu's QDict bucket of a key (tdb hash modulo 512). */
unsigned json_qdict_bucket(const char *key);

/* Parse the text after "json:" into flattened options ("file.filename" = ...). */
int jsonfile_parse(const char *text, struct opts **out, struct error **errp);

/* Human output of a QAPI object as qemu's dump_qobject does (used by info's format-specific part). */
void json_dump_human(FILE *out, json_object *obj, int indent);

#endif
