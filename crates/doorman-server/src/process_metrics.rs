//! The standard `process_*` metrics of Prometheus clients (CPU time, memory, file descriptors,
//! start time), read from /proc at scrape time. Linux only: elsewhere they are absent, which is
//! what Prometheus' own clients do too.
//!
//! Nothing here runs on the request path. A file that cannot be read or parsed leaves its metric
//! out of that scrape rather than failing it.

use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Registered once on the metrics registry, without the `doorman_` prefix.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let stat = stat.as_deref().and_then(StatFields::parse);
        let ticks = clock_ticks_per_second() as f64;
        if let Some(stat) = &stat {
            let seconds = (stat.utime + stat.stime) as f64 / ticks;
            let metric = ConstCounter::new(seconds);
            metric.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                metric.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                resident_bytes().map(|b| b as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stat.as_ref().map(|s| s.vsize as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                open_fds().map(|n| n as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max_fds().map(|n| n as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                stat.as_ref()
                    .and_then(|s| Some(boot_time()? as f64 + s.starttime as f64 / ticks)),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let metric = ConstGauge::new(value);
                metric.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    metric.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}

/// The fields of /proc/self/stat this module reads (proc(5) numbers them from 1).
struct StatFields {
    /// 14: user time, in clock ticks.
    utime: u64,
    /// 15: system time, in clock ticks.
    stime: u64,
    /// 22: start time after boot, in clock ticks.
    starttime: u64,
    /// 23: virtual memory size, in bytes.
    vsize: u64,
}

impl StatFields {
    fn parse(text: &str) -> Option<StatFields> {
        // The command name (field 2) is in parentheses and may hold spaces and parentheses
        // itself; the fields after the last `)` start with field 3.
        let (_, rest) = text.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(StatFields {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
        })
    }
}

/// `VmRSS` from /proc/self/status, which the kernel gives in kB: no page size to know.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb = line.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(kb * 1024)
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// The soft limit on open files, from /proc/self/limits.
fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// When the machine booted, in seconds since the epoch (`btime` in /proc/stat); read once.
fn boot_time() -> Option<u64> {
    static BOOT: OnceLock<Option<u64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    })
}

/// The unit of /proc's times (`USER_HZ`): `AT_CLKTCK` from the process's auxiliary vector,
/// which is where libc's `sysconf(_SC_CLK_TCK)` finds it (this crate has no `unsafe` to call
/// libc); 100, the kernel's value on every common architecture, if that cannot be read.
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| auxv_entry(&auxv, AT_CLKTCK))
            .and_then(|ticks| u64::try_from(ticks).ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

const AT_CLKTCK: usize = 17;

/// The value of `key` in an auxiliary vector: pairs of native words.
fn auxv_entry(auxv: &[u8], key: usize) -> Option<usize> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| Some(usize::from_ne_bytes(bytes.try_into().ok()?));
    auxv.chunks_exact(2 * WORD)
        .find(|pair| word(&pair[..WORD]) == Some(key))
        .and_then(|pair| word(&pair[WORD..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis, as a process may set for itself.
        let text = "4242 (doorman (x) 1) S 1 4242 4242 0 -1 4194560 1 0 0 0 \
                    250 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615";
        let s = StatFields::parse(text).unwrap();
        assert_eq!((s.utime, s.stime), (250, 75));
        assert_eq!(s.starttime, 123456);
        assert_eq!(s.vsize, 987654321);
    }

    #[test]
    fn the_clock_tick_is_read_from_the_auxiliary_vector() {
        let pairs: Vec<u8> = [(6usize, 4096usize), (AT_CLKTCK, 1024), (0, 0)]
            .iter()
            .flat_map(|&(k, v)| [k.to_ne_bytes(), v.to_ne_bytes()].concat())
            .collect();
        assert_eq!(auxv_entry(&pairs, AT_CLKTCK), Some(1024));
        assert_eq!(auxv_entry(&pairs, 99), None);
        // This process's own: every Linux architecture Rust builds for has a USER_HZ of 100.
        let own = std::fs::read("/proc/self/auxv").unwrap();
        assert_eq!(auxv_entry(&own, AT_CLKTCK), Some(100));
    }
}
