# Manual pages, one line each.
dist_man_MANS += %reldir%/flatimg.1
dist_man_MANS += %reldir%/flatimgfs.1
dist_man_MANS += %reldir%/flatimg-formats.7
