//! The trainer's threads run at the lowest CPU priority the OS offers, so
//! training only ever uses CPU time that searches and writes leave idle:
//! a query never waits for a CPU behind a training pass.
//!
//! On Linux that is `SCHED_IDLE` (below nice 19: the scheduler preempts it
//! for any normal thread at once), with nice 19 as the fallback. Elsewhere
//! the thread keeps its priority (the trainer still uses at most
//! `learning.threads` cores).

/// Lowers the calling thread's CPU priority as far as it goes; returns
/// what it set, for stats and tests.
pub fn lower_current_thread() -> &'static str {
    imp::lower_current_thread()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::raw::c_int;

    #[repr(C)]
    struct SchedParam {
        sched_priority: c_int,
    }

    const SCHED_IDLE: c_int = 5;
    const PRIO_PROCESS: c_int = 0;

    extern "C" {
        fn sched_setscheduler(pid: c_int, policy: c_int, param: *const SchedParam) -> c_int;
        fn setpriority(which: c_int, who: u32, prio: c_int) -> c_int;
    }

    pub fn lower_current_thread() -> &'static str {
        let param = SchedParam { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` reads one `struct sched_param` (a
        // single int, laid out as `SchedParam`) through a pointer valid for
        // the call; pid 0 is the calling thread on Linux. Lowering one's own
        // priority needs no privilege; a failure only leaves it unchanged.
        if unsafe { sched_setscheduler(0, SCHED_IDLE, &param) } == 0 {
            return "idle";
        }
        // SAFETY: plain integer arguments; `who` 0 with PRIO_PROCESS is the
        // calling thread on Linux (nice values are per thread there).
        if unsafe { setpriority(PRIO_PROCESS, 0, 19) } == 0 {
            return "nice 19";
        }
        "normal"
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn lower_current_thread() -> &'static str {
        "normal"
    }
}

#[cfg(test)]
mod tests {
    /// Field `n` (1-based, as in proc(5)) of `/proc/thread-self/stat`.
    #[cfg(target_os = "linux")]
    fn stat_field(n: usize) -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces; fields 3.. follow
        // its closing parenthesis.
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        rest.split_whitespace().nth(n - 3).unwrap().parse().unwrap()
    }

    #[test]
    fn a_thread_lowers_its_own_priority_and_the_kernel_says_so() {
        let (set, _policy, _nice) = std::thread::spawn(|| {
            let set = super::lower_current_thread();
            #[cfg(target_os = "linux")]
            return (set, stat_field(41), stat_field(19));
            #[cfg(not(target_os = "linux"))]
            return (set, 0, 0);
        })
        .join()
        .unwrap();
        println!("trainer priority on this OS: {set}");
        #[cfg(target_os = "linux")]
        match set {
            "idle" => assert_eq!(_policy, 5, "SCHED_IDLE is policy 5"),
            "nice 19" => assert_eq!(_nice, 19),
            other => panic!("could not lower the priority: {other}"),
        }
        // The caller's own thread keeps its priority.
        #[cfg(target_os = "linux")]
        assert_ne!(stat_field(41), 5);
    }
}
