//! The runtime a request runs on: which one it is (a connection belongs to the runtime that
//! opened it, whose I/O driver its socket is registered with), and whether it can run a
//! request at all.
//!
//! A tokio runtime built without timers or without I/O panics at the first timer or socket.
//! Tokio offers no way to ask, so the first request on each runtime tries both inside
//! `catch_unwind` (with the panic message silenced for that moment) and gets a typed
//! `ErrorKind::Runtime` error instead of a panic. The answer is remembered per thread for
//! the last runtime seen, so the check costs a comparison on every later request.
//! Where panics abort (`panic = "abort"`) there is nothing to catch and no check is made.

use std::cell::Cell;

use tokio::runtime::{Handle, Id};

use crate::error::{Error, ErrorKind};

thread_local! {
    /// The last runtime on this thread found to have timers and I/O.
    static CHECKED: Cell<Option<Id>> = const { Cell::new(None) };
}

/// The runtime the caller runs on, if it can run a request.
pub(crate) fn current() -> Result<Handle, Error> {
    let handle = Handle::try_current().map_err(|_| {
        Error::msg(
            ErrorKind::Runtime,
            "no tokio runtime is running: tether needs one, with timers and I/O enabled",
        )
    })?;
    let id = handle.id();
    if CHECKED.get() != Some(id) {
        drivers::check()?;
        CHECKED.set(Some(id));
    }
    Ok(handle)
}

#[cfg(panic = "unwind")]
mod drivers {
    use std::cell::Cell;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::Once;
    use std::time::Duration;

    use crate::error::{Error, ErrorKind};

    thread_local! {
        /// Set while a check runs: its panic is expected and not printed.
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    static HOOK: Once = Once::new();

    /// Wraps the panic hook once, so the expected panic of a check is not printed; every
    /// other panic goes to the hook that was there.
    fn install_quiet_hook() {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.try_with(Cell::get).unwrap_or(false) {
                    previous(info);
                }
            }));
        });
    }

    /// Whether `f` runs without panicking, with its panic message silenced.
    fn runs(f: impl FnOnce()) -> bool {
        install_quiet_hook();
        QUIET.set(true);
        let ok = catch_unwind(AssertUnwindSafe(f)).is_ok();
        QUIET.set(false);
        ok
    }

    /// Fails with `ErrorKind::Runtime` when the current runtime lacks timers or I/O.
    pub(super) fn check() -> Result<(), Error> {
        if !runs(|| drop(tokio::time::sleep(Duration::ZERO))) {
            return Err(Error::msg(
                ErrorKind::Runtime,
                "the tokio runtime has no timers: build it with `enable_time()` or `enable_all()`",
            ));
        }
        // Registering a socket needs the I/O driver. Only a socket that could be made
        // tells anything: without one, there is nothing to check.
        let Ok(socket) = std::net::UdpSocket::bind(("127.0.0.1", 0)) else {
            return Ok(());
        };
        if socket.set_nonblocking(true).is_err() {
            return Ok(());
        }
        if !runs(|| drop(tokio::net::UdpSocket::from_std(socket))) {
            return Err(Error::msg(
                ErrorKind::Runtime,
                "the tokio runtime has no I/O driver: build it with `enable_io()` or `enable_all()`",
            ));
        }
        Ok(())
    }
}

#[cfg(not(panic = "unwind"))]
mod drivers {
    /// Panics abort here: there is no way to check without risking the process.
    pub(super) fn check() -> Result<(), crate::error::Error> {
        Ok(())
    }
}
