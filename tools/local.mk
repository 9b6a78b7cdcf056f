# flatimg, the qemu-img compatible command: main.c dispatches, one cmd-NAME.c per subcommand.
# One line per source so that commands can be added independently.
bin_PROGRAMS += tools/flatimg
tools_flatimg_LDADD = $(CORE_LIBS)
tools_flatimg_SOURCES = %reldir%/main.c
tools_flatimg_SOURCES += %reldir%/common.c %reldir%/common.h %reldir%/commands.h
tools_flatimg_SOURCES += %reldir%/write-common.c %reldir%/write-common.h
tools_flatimg_SOURCES += %reldir%/chain.c %reldir%/chain.h
tools_flatimg_SOURCES += %reldir%/pipeline.c %reldir%/pipeline.h
tools_flatimg_SOURCES += %reldir%/check-report.c %reldir%/check-report.h
tools_flatimg_SOURCES += %reldir%/map-entry.c %reldir%/map-entry.h
tools_flatimg_SOURCES += %reldir%/cmd-amend.c
tools_flatimg_SOURCES += %reldir%/cmd-bench.c
tools_flatimg_SOURCES += %reldir%/cmd-bitmap.c
tools_flatimg_SOURCES += %reldir%/cmd-check.c
tools_flatimg_SOURCES += %reldir%/cmd-commit.c
tools_flatimg_SOURCES += %reldir%/cmd-compare.c
tools_flatimg_SOURCES += %reldir%/cmd-convert.c
tools_flatimg_SOURCES += %reldir%/cmd-create.c
tools_flatimg_SOURCES += %reldir%/cmd-dd.c
tools_flatimg_SOURCES += %reldir%/cmd-info.c
tools_flatimg_SOURCES += %reldir%/cmd-map.c
tools_flatimg_SOURCES += %reldir%/cmd-measure.c
tools_flatimg_SOURCES += %reldir%/cmd-snapshot.c
tools_flatimg_SOURCES += %reldir%/cmd-rebase.c
tools_flatimg_SOURCES += %reldir%/cmd-resize.c
