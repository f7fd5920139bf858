//! The kernel's uevents on a netlink socket: the watcher wakes at once when
//! a module is loaded or unloaded.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A netlink socket on the kernel's uevent multicast group.
pub(super) struct UeventSocket(pub(super) OwnedFd);

impl UeventSocket {
    pub(super) fn open() -> io::Result<UeventSocket> {
        // SAFETY: socket(2) takes no pointers; it returns a new descriptor
        // or -1.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_KOBJECT_UEVENT,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2): open, and owned by
        // nothing else, so the `OwnedFd` is its only owner and closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `sockaddr_nl` is plain integers; all zeros is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_pid = 0; // let the kernel pick the port id
        addr.nl_groups = 1; // the kernel's uevents (udev's are group 2)
                            // SAFETY: `addr` is a live `sockaddr_nl` and the length passed is
                            // its size; bind(2) only reads it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UeventSocket(fd))
    }

    /// Reads every pending message; whether one was about a module (or
    /// messages were lost, which might have been).
    pub(super) fn drain(&self, buf: &mut [u8]) -> bool {
        let mut module = false;
        loop {
            // SAFETY: `buf` is a live, exclusively borrowed buffer and its
            // true length is passed; recv(2) writes at most that many bytes.
            let n = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => module = true, // overrun: look anyway
                    _ => return module,                   // EAGAIN: drained
                }
                continue;
            }
            // Only the kernel (or CAP_NET_ADMIN) sends to this group, and a
            // message only makes the watcher read the fingerprint sooner.
            if is_module_uevent(&buf[..n as usize]) {
                module = true;
            }
        }
    }
}

/// Whether a kernel uevent (`ACTION@DEVPATH\0KEY=VALUE\0...`) is about a module.
pub(super) fn is_module_uevent(msg: &[u8]) -> bool {
    msg.split(|&b| b == 0).any(|f| f == b"SUBSYSTEM=module")
}
