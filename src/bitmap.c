/* Helpers shared by every user of struct bitmap_ops (see bitmap.h). */
#include "config.h"
#include "bitmap.h"

#include <stdlib.h>

void bitmap_info_list_free(struct bitmap_info *list, int count)
{
    for (int i = 0; list && i < count; i++)
        free(list[i].name);
    free(list);
}
