//! The watcher thread: what it sleeps on (stop socket, module uevents, perf
//! ksymbol rings), and its loop that polls the fingerprint, settles a burst
//! of changes and rebuilds.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::perf::{open_ksymbol_rings, PerfRing};
use super::uevent::UeventSocket;
use super::Shared;

/// The watcher thread, stopped and joined on drop.
pub(super) struct Watcher {
    /// Dropping this end wakes the thread (its end reads end-of-file).
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
    pub(super) uevents: bool,
    pub(super) ksymbol_events: bool,
}

impl Watcher {
    pub(super) fn start(shared: &Arc<Shared>) -> io::Result<Watcher> {
        let (stop, stop_rx) = UnixStream::pair()?;
        let uevents = if shared.live && shared.config.uevents {
            UeventSocket::open().ok()
        } else {
            None
        };
        let listening = uevents.is_some();
        let rings = if shared.live && shared.config.ksymbol_events {
            // Not permitted (EACCES, EPERM), not built in (ENOENT, ENOSYS),
            // or anything else: polling alone does the work.
            open_ksymbol_rings().unwrap_or_default()
        } else {
            Vec::new()
        };
        let ksymbol_events = !rings.is_empty();
        let waker = Waker {
            stop: stop_rx,
            uevents,
            rings,
            buf: vec![0; 8192],
        };
        let shared = Arc::clone(shared);
        let thread = std::thread::Builder::new()
            .name("ksym-live".to_string())
            .spawn(move || watch(&shared, waker))?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
            uevents: listening,
            ksymbol_events,
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A loader holding a handle could make the watcher drop the last
            // one: it cannot join itself, and returns on its own.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Stop,
    ModuleEvent,
    /// A perf ring buffer received a record (a kernel symbol came or went).
    KsymbolEvent,
    Timeout,
}

/// What the watcher sleeps on: the stop socket and, maybe, module uevents
/// and per-CPU perf events reporting kernel symbols.
struct Waker {
    stop: UnixStream,
    uevents: Option<UeventSocket>,
    rings: Vec<PerfRing>,
    buf: Vec<u8>,
}

impl Waker {
    /// Sleeps until `deadline`, a stop, a module uevent or a perf record.
    fn wait_until(&mut self, deadline: Instant) -> Wake {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Wake::Timeout;
            }
            // A negative descriptor is skipped by poll(2).
            let mut fds: Vec<libc::pollfd> = [
                self.stop.as_raw_fd(),
                self.uevents.as_ref().map_or(-1, |u| u.0.as_raw_fd()),
            ]
            .into_iter()
            .chain(self.rings.iter().map(PerfRing::poll_fd))
            .map(pollfd)
            .collect();
            let ready = match poll(&mut fds, deadline - now) {
                Ok(ready) => ready,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Not expected; sleep instead of spinning.
                    std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
                    continue;
                }
            };
            if ready == 0 {
                continue; // the deadline check returns
            }
            if fds[0].revents != 0 {
                return Wake::Stop;
            }
            if fds[1].revents != 0 {
                if let Some(u) = &self.uevents {
                    if u.drain(&mut self.buf) {
                        return Wake::ModuleEvent;
                    }
                }
            }
            let mut ksymbol = false;
            for (ring, fd) in self.rings.iter_mut().zip(&fds[2..]) {
                if fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    // Not expected (the event went away): stop polling it
                    // rather than spin; the fingerprint polling remains.
                    ring.broken = true;
                }
                if fd.revents != 0 && ring.drain() {
                    ksymbol = true;
                }
            }
            if ksymbol {
                return Wake::KsymbolEvent;
            }
        }
    }
}

/// poll(2) over `fds` for at most `timeout` (rounded up to a millisecond).
fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = timeout
        .as_nanos()
        .div_ceil(1_000_000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a live, exclusively borrowed slice of `pollfd`, and
    // its true length is passed; poll(2) writes only their `revents`.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// The watcher's loop: poll, settle a burst, rebuild; until stopped.
fn watch(shared: &Shared, mut waker: Waker) {
    // A zero interval would spin.
    let interval = shared.config.poll_interval.max(Duration::from_millis(1));
    loop {
        let wake = waker.wait_until(Instant::now() + interval);
        match wake {
            Wake::Stop => return,
            Wake::Timeout => {
                if let Ok(fp) = shared.read_fingerprint() {
                    if **shared.fingerprint.load() == fp {
                        continue;
                    }
                }
                // Changed, or unreadable: settle, then let refresh() decide
                // (and record any error).
            }
            Wake::ModuleEvent | Wake::KsymbolEvent => {}
        }
        if settle(shared, &mut waker) == Wake::Stop {
            return;
        }
        // Errors are recorded for last_error(); the old table stays.
        let _ = shared.refresh(false);
    }
}

/// Waits until the fingerprint has not changed for `settle_quiet` (and no
/// module uevent or perf record came), at most `settle_max`.
fn settle(shared: &Shared, waker: &mut Waker) -> Wake {
    let config = &shared.config;
    let give_up = Instant::now() + config.settle_max;
    let mut last = shared.read_fingerprint().ok();
    loop {
        let now = Instant::now();
        if now >= give_up {
            return Wake::Timeout;
        }
        match waker.wait_until((now + config.settle_quiet).min(give_up)) {
            Wake::Stop => return Wake::Stop,
            // Not quiet: wait again.
            Wake::ModuleEvent | Wake::KsymbolEvent => last = None,
            Wake::Timeout => {
                let fp = shared.read_fingerprint().ok();
                if fp.is_some() && fp == last {
                    return Wake::Timeout;
                }
                last = fp;
            }
        }
    }
}
