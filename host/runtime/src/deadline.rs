//! `wasi:io/poll` and the blocking half of `wasi:io/streams`, bounded by
//! the call's deadline.
//!
//! Epoch interruption stops guest code, not a host call: a guest blocked in
//! the host (`pollable.block` on a clock, which is what Rust's
//! `std::thread::sleep` compiles to, or a blocking read of a slow response
//! body) sleeps on the real clock for as long as it asks. These replace
//! wasmtime-wasi's own implementations in the linker (the same calls on the
//! same resource table) with ones that give up at the deadline: the call then
//! fails as [`PastDeadline`], classified like any other deadline, so no host
//! call a plugin can make outlives its step.

use std::future::Future;
use std::time::Instant;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynPollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as AsyncInput, HostOutputStream as AsyncOutput,
};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use crate::state::HostState;

/// A host call that was still blocked when the step's deadline came.
#[derive(Debug, thiserror::Error)]
#[error("a host call was still blocked at the step's deadline")]
pub(crate) struct PastDeadline;

/// Link the bounded versions over wasmtime-wasi's (call after it).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    poll::add_to_linker::<HostState, BoundedIo>(linker, HostState::bounded_io)?;
    streams::add_to_linker::<HostState, BoundedIo>(linker, HostState::bounded_io)?;
    linker.allow_shadowing(false);
    Ok(())
}

struct BoundedIo;

impl HasData for BoundedIo {
    type Data<'a> = Bounded<'a>;
}

/// The call's resource table and the instant its host calls must end by.
pub(crate) struct Bounded<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) deadline: Instant,
}

/// Run `work` to completion or until `deadline`, whichever is first.
fn until<F: Future>(deadline: Instant, work: F) -> Result<F::Output, PastDeadline> {
    in_tokio(async { tokio::time::timeout_at(deadline.into(), work).await }).map_err(|_| PastDeadline)
}

fn stream_until<T>(deadline: Instant, work: impl Future<Output = StreamResult<T>>) -> StreamResult<T> {
    until(deadline, work).unwrap_or_else(|past| Err(StreamError::Trap(past.into())))
}

impl poll::Host for Bounded<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        until(self.deadline, async_poll::Host::poll(self.table, pollables))?
    }
}

impl poll::HostPollable for Bounded<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        poll::HostPollable::ready(self.table, pollable)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        until(self.deadline, async_poll::HostPollable::block(self.table, pollable))?
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.table, pollable)
    }
}

impl streams::Host for Bounded<'_> {
    fn convert_stream_error(&mut self, error: StreamError) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.table, error)
    }
}

impl streams::HostOutputStream for Bounded<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        // Dropping an output stream may wait for it to flush.
        until(self.deadline, AsyncOutput::drop(self.table, stream))?
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        streams::HostOutputStream::check_write(self.table, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        streams::HostOutputStream::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        stream_until(self.deadline, AsyncOutput::blocking_write_and_flush(self.table, stream, bytes))
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        stream_until(self.deadline, AsyncOutput::blocking_write_zeroes_and_flush(self.table, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostOutputStream::subscribe(self.table, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        streams::HostOutputStream::write_zeroes(self.table, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        let borrowed = Resource::new_borrow(stream.rep());
        stream_until(self.deadline, AsyncOutput::blocking_flush(self.table, borrowed))
    }

    fn splice(
        &mut self,
        destination: Resource<DynOutputStream>,
        source: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.table, destination, source, len)
    }

    fn blocking_splice(
        &mut self,
        destination: Resource<DynOutputStream>,
        source: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        stream_until(self.deadline, AsyncOutput::blocking_splice(self.table, destination, source, len))
    }
}

impl streams::HostInputStream for Bounded<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        until(self.deadline, AsyncInput::drop(self.table, stream))?
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.table, stream, len)
    }

    fn blocking_read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        stream_until(self.deadline, AsyncInput::blocking_read(self.table, stream, len))
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.table, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        stream_until(self.deadline, AsyncInput::blocking_skip(self.table, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostInputStream::subscribe(self.table, stream)
    }
}
