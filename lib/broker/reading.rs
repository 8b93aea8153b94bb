//! Reading a connection's bytes without a buffer while it is idle.
//!
//! Most connections are quiet most of the time, and a read buffer reserved for the next read
//! is held for as long as that read waits: 4 KiB per idle connection, half of what one cost.
//! So a connection whose buffer is empty reads into a scratch buffer of its worker thread
//! instead, borrowed only for the duration of one `poll_read` (an `AsyncRead` never keeps the
//! buffer across `Pending`), and what arrives is copied into a buffer of exactly its size. A
//! busy connection keeps its own buffer and reads straight into it.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

/// Size of each worker thread's scratch buffer.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    static BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// Reads some bytes into `buf`: directly when it has room, else through the scratch buffer.
/// Resolves to the number of bytes read (0: the peer closed).
pub fn read_some<'a, R: AsyncRead + Unpin>(
    reader: &'a mut R,
    buf: &'a mut BytesMut,
) -> ReadSome<'a, R> {
    ReadSome { reader, buf }
}

/// See [`read_some`].
pub struct ReadSome<'a, R> {
    reader: &'a mut R,
    buf: &'a mut BytesMut,
}

impl<R: AsyncRead + Unpin> Future for ReadSome<'_, R> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.capacity() > this.buf.len() {
            // Room in its own buffer: read straight into it.
            let dst = this.buf.spare_capacity_mut();
            let mut rb = ReadBuf::uninit(dst);
            return match Pin::new(&mut *this.reader).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
                    unsafe { this.buf.set_len(this.buf.len() + n) };
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        BUFFER.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mut rb = ReadBuf::new(&mut scratch[..]);
            match Pin::new(&mut *this.reader).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let read = rb.filled();
                    this.buf.extend_from_slice(read);
                    Poll::Ready(Ok(read.len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn an_empty_buffer_gets_exactly_what_arrived() {
        let (mut a, mut b) = tokio::io::duplex(64 * 1024);
        a.write_all(b"hello").await.unwrap();
        let mut buf = BytesMut::new();
        assert_eq!(read_some(&mut b, &mut buf).await.unwrap(), 5);
        assert_eq!(&buf[..], b"hello");
        assert!(
            buf.capacity() < 64,
            "sized to what arrived: {}",
            buf.capacity()
        );
        // With room, it reads straight into it.
        buf.reserve(100);
        a.write_all(b" world").await.unwrap();
        assert_eq!(read_some(&mut b, &mut buf).await.unwrap(), 6);
        assert_eq!(&buf[..], b"hello world");
        drop(a);
        assert_eq!(read_some(&mut b, &mut buf).await.unwrap(), 0);
    }
}
