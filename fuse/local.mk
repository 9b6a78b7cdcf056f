# flatimgfs: the FUSE mount (fuse/flatimgfs.c start-up, fuse/ops.c operations, fuse/partitions.c
# MBR/GPT parsing for partitions/).
bin_PROGRAMS += fuse/flatimgfs
fuse_flatimgfs_SOURCES = \
	%reldir%/flatimgfs.c %reldir%/flatimgfs.h \
	%reldir%/loop.c \
	%reldir%/ops.c \
	%reldir%/partitions.c %reldir%/partitions.h \
	%reldir%/readpool.c %reldir%/readpool.h
fuse_flatimgfs_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS)
fuse_flatimgfs_LDADD = $(CORE_LIBS) $(FUSE_LIBS)
EXTRA_DIST += bench/fuse-read.sh
