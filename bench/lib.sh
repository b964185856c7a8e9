# Helpers shared by the benchmark scripts (sourced, not run).

# Before every timed run, outside its window: write back what earlier runs left dirty, and
# (DROP_CACHES=1, the default, as root) empty the page cache, so that every run of every method
# starts from the same memory: without it a run pays for the previous run's writeback and page
# reclaim, which moved single runs by up to 2x on these machines.
settle() {
    sync
    if [[ ${DROP_CACHES:-1} == 1 && -w /proc/sys/vm/drop_caches ]]; then
        echo 3 >/proc/sys/vm/drop_caches
    fi
}
