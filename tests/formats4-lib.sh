# Helpers of the fourth formats batch's shell tests (sourced after lib.sh and formats2-lib.sh).

# same_check IMG [FMT]: `check` (human and JSON) and `check -r leaks` / `check -r all` on fresh
# copies give qemu-img's output and exit code; after a repair, qemu-img's own check of the result,
# its size and its data agree too.
same_check() {
    local img=$1 f=()
    [ -n "${2:-}" ] && f=(-f "$2")
    same check "${f[@]}" "$img"
    same check "${f[@]}" --output=json "$img"
    local r
    for r in leaks all; do
        same_fresh "cp ../$img x && \$IMG check ${f[*]} -r $r x; echo rc=\$?;
            \"\$QEMU_IMG\" check ${f[*]} x; echo rc=\$?; stat -c %s x;
            \"\$QEMU_IMG\" convert -U ${f[*]} -O raw x x.raw && sha256sum x.raw"
    done
}
