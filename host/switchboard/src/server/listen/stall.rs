//! Ends a connection whose client stops moving bytes in the middle of an
//! exchange, which hyper's header timeout does not cover:
//!
//! - [`BodyGuard`]: a request body that yields nothing for the idle timeout
//!   (a head promising 64 KiB, then silence) fails, so the handler answers
//!   and the connection closes instead of waiting forever;
//! - [`WriteGuard`]: a write the client does not read for the idle timeout
//!   (a full TCP window) fails, which ends the connection, WebSocket or not.
//!
//! Waiting to *read* outside a body is not guarded here: between requests
//! the header timeout applies, and during a request the handler may take
//! its time.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::HttpBody;
use hyper::body::{Bytes, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::Permit;

/// A countdown that starts when an operation first returns `Pending` and
/// is cleared whenever one makes progress.
#[derive(Debug)]
struct Stall {
    limit: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    fn new(limit: Duration) -> Self {
        Self { limit, deadline: None }
    }

    /// Pass `poll` through; `true` when it has been pending for too long.
    fn expired<T>(&mut self, cx: &mut Context<'_>, poll: &Poll<T>) -> bool {
        if poll.is_ready() {
            self.deadline = None;
            return false;
        }
        let limit = self.limit;
        let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        deadline.as_mut().poll(cx).is_ready()
    }
}

/// A request body that fails after the idle timeout without a frame.
#[derive(Debug)]
pub struct BodyGuard<B> {
    body: B,
    stall: Stall,
}

impl<B> BodyGuard<B> {
    pub fn new(body: B, idle: Duration) -> Self {
        Self { body, stall: Stall::new(idle) }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the client sent no body bytes for {0:?}")]
pub struct BodyStalled(Duration);

impl<B> HttpBody for BodyGuard<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.body).poll_frame(cx);
        if this.stall.expired(cx, &poll) {
            return Poll::Ready(Some(Err(BodyStalled(this.stall.limit).into())));
        }
        poll.map(|frame| frame.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, carrying its [`Permit`], whose writes fail after
/// the idle timeout without progress.
#[derive(Debug)]
pub struct WriteGuard<S> {
    io: S,
    stall: Stall,
    _permit: Permit,
}

impl<S> WriteGuard<S> {
    pub fn new(io: S, permit: Permit, idle: Duration) -> Self {
        Self { io, stall: Stall::new(idle), _permit: permit }
    }

    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if self.stall.expired(cx, &poll) {
            let message = format!("the client read nothing for {:?}", self.stall.limit);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, message)));
        }
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteGuard<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteGuard<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.guard(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.guard(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.guard(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    use super::super::Limiter;
    use super::*;

    const IDLE: Duration = Duration::from_millis(50);
    /// Far beyond `IDLE`: only reached if the guard failed to fire.
    const PATIENCE: Duration = Duration::from_secs(5);

    /// A body whose client went quiet: it never yields.
    struct Silent;

    impl HttpBody for Silent {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_silent_body_fails_after_the_idle_timeout() {
        let mut body = BodyGuard::new(Silent, IDLE);
        let frame = tokio::time::timeout(PATIENCE, body.frame()).await.expect("the guard fires in time");
        let error = frame.expect("an item").expect_err("a stall error");
        assert!(error.to_string().contains("no body bytes"), "{error}");
    }

    #[tokio::test]
    async fn a_body_that_keeps_coming_is_untouched() {
        let mut body = BodyGuard::new(http_body_util::Full::new(Bytes::from_static(b"hello")), IDLE);
        let data = body.frame().await.expect("a frame").expect("no error").into_data().expect("data");
        assert_eq!(data, Bytes::from_static(b"hello"));
    }

    #[tokio::test]
    async fn a_write_the_client_never_reads_fails_and_frees_the_permit() {
        let limiter = Limiter::new(10, 10);
        let permit = limiter.admit(IpAddr::V4(Ipv4Addr::LOCALHOST)).expect("admitted");
        // A 64-byte pipe whose other end never reads.
        let (server_side, _client_side) = tokio::io::duplex(64);
        let mut guarded = WriteGuard::new(server_side, permit, IDLE);
        let wrote = tokio::time::timeout(PATIENCE, guarded.write_all(&[0; 4096])).await;
        let error = wrote.expect("the guard fires in time").expect_err("a stall error");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(limiter.open(), 1);
        drop(guarded);
        assert_eq!(limiter.open(), 0);
    }
}
