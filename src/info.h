/* qemu's ImageInfo: built once from an open node as a json-c object (QAPI field names and
 * insertion order), printed either as qemu-img's JSON or as its human text. Used by `flatimg info`
 * and the mount's info.json. */
#ifndef FLATIMG_INFO_H
#define FLATIMG_INFO_H

#include <json-c/json.h>
#include <stdio.h>

#include "node.h"

json_object *image_info_build(struct node *n, struct error **errp);
void image_info_print_human(FILE *out, json_object *info);
/* One snapshot table row as qemu prints it (NULL: the header line). */
void snapshot_dump_row(FILE *out, json_object *sn);
json_object *snapshot_info_to_json(const struct snapshot_info *sn);

#endif
