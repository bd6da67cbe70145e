//! The traits on real channels, driven by `futures::executor::block_on`.

use bytecast::{Backpressure, Channel, ChannelError, Config, StartAt};
use bytecast_embedded_io::{Io, IoError};
use embedded_io::{Error, ErrorKind};
use embedded_io_async::{BufRead, Read, Write};
use futures::executor::block_on;

#[test]
fn write_all_and_read_exact_round_trip_across_frames() {
    block_on(async {
        let chan = Channel::new(256);
        let mut w = Io(chan.new_strong_writer());
        let mut weak_w = Io(chan.new_weak_writer());
        let mut r = Io(chan.new_strong_reader());
        w.write_all(b"hello ").await.unwrap();
        weak_w.write_all(b"world").await.unwrap();
        w.flush().await.unwrap();
        let mut buf = [0u8; 11];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello world");
        drop((w, weak_w));
        chan.drain().unwrap();
        assert_eq!(r.read(&mut buf).await, Ok(0), "end of stream reads 0");
    });
}

#[test]
fn fill_buf_lends_each_frame_and_consume_moves_on() {
    block_on(async {
        let chan = Channel::new(256);
        let mut w = Io(chan.new_strong_writer());
        let mut r = Io(chan.new_strong_reader());
        w.write_all(b"abc").await.unwrap();
        w.write_all(b"defg").await.unwrap();
        assert_eq!(r.fill_buf().await.unwrap(), b"abc");
        r.consume(2);
        assert_eq!(r.fill_buf().await.unwrap(), b"c");
        r.consume(1);
        assert_eq!(r.fill_buf().await.unwrap(), b"defg");
        r.consume(4);
        chan.drain().unwrap();
        assert_eq!(
            r.fill_buf().await.unwrap(),
            b"",
            "end of stream lends nothing"
        );
    });
}

#[test]
fn a_pending_fill_buf_completes_when_a_frame_arrives() {
    let chan = Channel::new(256);
    let mut w = chan.new_strong_writer();
    let mut r = Io(chan.new_strong_reader());
    let reader = std::thread::spawn(move || {
        block_on(async {
            let got = r.fill_buf().await.unwrap().to_vec();
            let n = got.len();
            r.consume(n);
            got
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(w.try_write(b"late"), Ok(Some(4)));
    assert_eq!(reader.join().unwrap(), b"late");
}

#[test]
fn errors_keep_the_channel_error_and_map_to_embedded_io_kinds() {
    block_on(async {
        let chan =
            Channel::try_with_config(Config::new(64).backpressure(Backpressure::Drop)).unwrap();
        let mut w = Io(chan.new_writer());
        let _hold = chan.new_strong_reader();
        let mut refused = None;
        for _ in 0..16 {
            if let Err(e) = w.write(&[7; 20]).await {
                refused = Some(e);
                break;
            }
        }
        let e = refused.expect("a Drop channel refuses once full");
        assert_eq!(e, IoError(ChannelError::Full));
        assert_eq!(e.kind(), ErrorKind::WriteZero);

        chan.drain().unwrap();
        let e = w.write(b"x").await.unwrap_err();
        assert_eq!(
            (e.channel_error(), e.kind()),
            (&ChannelError::Draining, ErrorKind::BrokenPipe)
        );

        chan.terminate().unwrap_err();
        let mut r = Io(chan.try_new_reader(true, StartAt::Oldest).unwrap());
        let e = r.read(&mut [0u8; 4]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
    });
}

#[test]
fn a_lapped_weak_reader_reports_its_loss_then_reads_on() {
    block_on(async {
        let chan = Channel::new(64);
        let mut w = Io(chan.new_strong_writer());
        let mut r = Io(chan.new_weak_reader());
        for i in 0..20u8 {
            w.write_all(&[i; 8]).await.unwrap();
        }
        let e = r.read(&mut [0u8; 8]).await.unwrap_err();
        assert!(matches!(e.channel_error(), ChannelError::ReaderBehind(n) if *n > 0));
        assert_eq!(e.kind(), ErrorKind::Other);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).await, Ok(8));
        assert!(
            buf.iter().all(|&b| b == buf[0]),
            "a whole frame after the loss"
        );
    });
}
