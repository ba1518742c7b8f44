//! SIGTERM and SIGINT. As PID 1 in a container a process gets no default handler for them, so
//! both are installed explicitly, before the server says it listens.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

pub(crate) struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Must run inside the tokio runtime.
    pub(crate) fn install() -> io::Result<Self> {
        Ok(Signals { terminate: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
    }

    /// Waits for the next signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
