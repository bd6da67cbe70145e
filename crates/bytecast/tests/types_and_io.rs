//! Types and the `std::io` mapping: `ChannelError` is a well-behaved error type, handles and
//! their futures are `Send`, channel errors map to the documented `io::ErrorKind`s (with
//! `ReaderBehind` downcastable), a write grant is a `std::io::Write`, and nothing panics when
//! handles drop in any order.
//!
//! Single-threaded and driven by hand (`try_*` and `poll_*` with counting wakers) unless a test
//! needs real concurrency; tests that could hang on a bug run under a watchdog that turns a hang
//! into a failure. docs/semantics.md maps each promise to these tests.

use bytecast::{Channel, ChannelError, StrongReader, StrongWriter, WeakReader, WeakWriter};

#[test]
fn channel_error_is_a_well_behaved_error_type() {
    fn assert_error<E>()
    where
        E: std::fmt::Debug
            + std::fmt::Display
            + Clone
            + PartialEq
            + Eq
            + Send
            + Sync
            + 'static
            + std::error::Error,
    {
    }
    assert_error::<ChannelError>();
    let e = ChannelError::ReaderBehind(3);
    assert_eq!(e.clone(), e);
    assert!(!format!("{e:?}").is_empty() && e.to_string().contains('3'));
}

#[test]
fn handles_and_their_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Channel>();
    let chan = Channel::new(64);
    let mut sw = chan.new_strong_writer();
    let mut ww = chan.new_weak_writer();
    let mut sr = chan.new_strong_reader();
    let mut wr = chan.new_weak_reader();
    assert_send(&chan);
    assert_send(&sw);
    assert_send(&ww);
    assert_send(&sr);
    assert_send(&wr);
    assert_send(&sw.write(b"x"));
    assert_send(&ww.write(b"x"));
    assert_send(&sw.reserve(1));
    assert_send(&sr.read_frame(8));
    assert_send(&wr.read_frame(8));
    assert_send(&sr.read(&mut [0; 1]));
    assert_send(&sr.borrow_frame());
    let mut any = chan.new_writer();
    assert_send(&any.write(b"x"));
    let mut reader: bytecast::Reader = chan.new_weak_reader().into();
    assert_send(&reader.read_frame(8));
    fn assert_static_send<T: Send + 'static>(_: T) {}
    assert_static_send(chan.new_strong_writer());
    assert_static_send(chan.new_weak_reader());
    let _: (StrongWriter, WeakWriter, StrongReader, WeakReader) = (sw, ww, sr, wr);
}

#[test]
fn io_errors_map_as_documented_and_reader_behind_is_downcastable() {
    use std::io;
    let kind = |e: ChannelError| io::Error::from(e).kind();
    assert_eq!(
        kind(ChannelError::Terminated),
        io::ErrorKind::ConnectionAborted
    );
    assert_eq!(kind(ChannelError::Draining), io::ErrorKind::BrokenPipe);
    assert_eq!(kind(ChannelError::ReaderBehind(5)), io::ErrorKind::Other);
    assert_eq!(
        kind(ChannelError::FrameTooLarge { len: 9, max: 8 }),
        io::ErrorKind::InvalidInput
    );
    assert_ne!(kind(ChannelError::Draining), io::ErrorKind::Interrupted);
    let e = io::Error::from(ChannelError::ReaderBehind(42));
    assert_eq!(
        e.get_ref().and_then(|i| i.downcast_ref::<ChannelError>()),
        Some(&ChannelError::ReaderBehind(42))
    );
    assert_eq!(kind(ChannelError::Closed), io::ErrorKind::BrokenPipe);
    assert_eq!(
        kind(ChannelError::EndOfStream),
        io::ErrorKind::UnexpectedEof
    );
}

#[test]
fn nothing_panics_when_handles_drop_in_any_order() {
    for order in 0..6 {
        let chan = Channel::new(64);
        let mut w = chan.new_strong_writer();
        let r = chan.new_strong_reader();
        let weak = chan.new_weak_reader();
        let ww = chan.new_weak_writer();
        let g = w.try_reserve(8).unwrap().unwrap();
        drop(g);
        match order {
            0 => drop((chan, w, r, weak, ww)),
            1 => drop((w, chan, ww, weak, r)),
            2 => drop((r, weak, chan, ww, w)),
            3 => {
                chan.terminate().unwrap();
                drop((w, r, chan));
            }
            4 => {
                chan.drain().unwrap();
                drop((chan, r, w));
            }
            _ => {
                let s = w.downgrade();
                drop((chan, s, r));
            }
        }
    }
}

/// A `WriteGrant` is a `std::io::Write`: `write!` formats into the frame, `write` takes what
/// fits and 0 once the grant is full (so `write_all` past it is `WriteZero`), `flush` is `Ok`,
/// and the frame is what was written when it is committed.
#[test]
fn write_grant_is_an_io_write() {
    use std::io::{ErrorKind, Write};
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = chan.new_strong_reader();
    let mut g = w.try_reserve(12).unwrap().unwrap();
    write!(g, "{}+{}={}", 2, 2, 4).unwrap();
    g.flush().unwrap();
    assert_eq!(g.len(), 5);
    assert_eq!(g.write(b"0123").unwrap(), 4);
    let e = g.write_all(b"56789").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WriteZero);
    assert_eq!(g.remaining(), 0);
    assert_eq!(g.write(b"x").unwrap(), 0);
    assert_eq!(g.commit(), 12);
    assert_eq!(r.try_read_frame(64).unwrap().unwrap().1, b"2+2=40123567");
}
