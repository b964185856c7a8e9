//! Which processes belong to a server directory.
//!
//! A process counts as a directory's only when it runs and its command line names a path
//! inside the directory (`--defaults-file=DIR/my.cnf`, `--socket=DIR/sock`, `-C DIR/data`, …):
//! a pid file may name a PID since recycled by an unrelated process, which must never be
//! signalled.

use std::path::Path;

use ferryman_exec::process;

use crate::Layout;

/// The PID of the server of `layout` if it runs: read from its pid file and checked to be a
/// process of its directory ([`runs_in`]).
pub fn running_pid(layout: &Layout) -> Option<u32> {
    read_pid_file(&layout.pid_file()).filter(|&pid| runs_in(pid, layout.root()))
}

/// The pid file's PID, if it holds one.
pub fn read_pid_file(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// True when `pid` runs and its command line names something inside `dir`.
pub fn runs_in(pid: u32, dir: &Path) -> bool {
    process::is_running(pid) && names(&process::cmdline(pid), dir)
}

fn names(cmdline: &str, dir: &Path) -> bool {
    cmdline.contains(&format!("{}/", dir.display()))
}

/// Every live process whose command line names something inside `dir`, except this one.
pub fn processes_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid > 1 && runs_in(pid, dir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_directory_count() {
        let dir = Path::new("/w/tw-a-1-1");
        assert!(names(
            "/usr/sbin/mariadbd --defaults-file=/w/tw-a-1-1/my.cnf",
            dir
        ));
        assert!(!names(
            "/usr/sbin/mariadbd --defaults-file=/w/tw-a-1-10/my.cnf",
            dir
        ));
        assert!(!names("/usr/bin/sleep 100", dir));
        // This process names no server directory: never a candidate.
        assert!(!runs_in(std::process::id(), dir));
    }

    #[test]
    fn a_pid_file_naming_a_stranger_gives_no_pid() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert_eq!(running_pid(&layout), None);
        std::fs::write(layout.pid_file(), format!("{}\n", std::process::id())).unwrap();
        assert_eq!(read_pid_file(&layout.pid_file()), Some(std::process::id()));
        assert_eq!(running_pid(&layout), None);
    }
}
