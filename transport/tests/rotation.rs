//! Stream keys really rotate, on the byte budget and on the time budget, and
//! the control stream's DH ratchet really steps.

mod common;

use std::time::Duration;

use cairn_transport::TransportConfig;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn epochs_advance_on_the_byte_budget() {
    let cfg = TransportConfig {
        rotate_after_bytes: 16 * 1024,
        rotate_after_ms: 0,
        max_frame_size: 4096,
        ..fast_config()
    };
    let (a, b) = duplex_pair(cfg).await;
    let mut s = a.open_stream("blocks/1").await.unwrap();
    let reader = tokio::spawn(async move {
        let (_, mut r) = b.accept_stream().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        (got, r.stats())
    });
    let data = vec![7u8; 1024 * 1024];
    for chunk in data.chunks(4096) {
        s.write_all(chunk).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    s.shutdown().await.unwrap();
    let (got, rstats) = reader.await.unwrap();
    assert_eq!(got, data);
    let sstats = s.stats();
    // 1 MiB at 16 KiB per epoch: rotation is gated on acks, so allow slack,
    // but it must have happened many times on both sides.
    assert!(
        sstats.rotations_sent >= 8,
        "sender rotated {} times",
        sstats.rotations_sent
    );
    assert_eq!(rstats.rotations_received, sstats.rotations_sent);
    assert_eq!(rstats.recv_epoch, sstats.send_epoch);
    assert!(sstats.last_rotation.is_some());
}

#[tokio::test(start_paused = true)]
async fn epochs_advance_on_the_time_budget() {
    let cfg = TransportConfig {
        rotate_after_bytes: 0,
        rotate_after_ms: 1_000,
        idle_timeout_ms: 3_600_000,
        ..fast_config()
    };
    let (a, b) = duplex_pair(cfg).await;
    let mut s = a.open_stream("media/1").await.unwrap();
    s.write_all(b"first").await.unwrap();
    s.flush().await.unwrap();
    let (_, mut r) = b.accept_stream().await.unwrap();
    let mut buf = [0u8; 5];
    r.read_exact(&mut buf).await.unwrap();
    for i in 0..5u8 {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        s.write_all(&[i]).await.unwrap();
        s.flush().await.unwrap();
        let mut one = [0u8; 1];
        r.read_exact(&mut one).await.unwrap();
        assert_eq!(one[0], i);
    }
    assert_eq!(s.stats().send_epoch, 5);
    assert_eq!(r.stats().recv_epoch, 5);
    assert_eq!(r.stats().rotations_received, 5);
}

#[tokio::test(start_paused = true)]
async fn control_stream_ratchets_at_its_interval_and_measures_rtt() {
    let cfg = TransportConfig {
        control_ratchet_interval_ms: 2_000,
        ping_interval_ms: 500,
        idle_timeout_ms: 3_600_000,
        ..fast_config()
    };
    let (a, b) = duplex_pair(cfg).await;
    tokio::time::sleep(Duration::from_millis(7_000)).await;
    let ra = a.stats().control_ratchets;
    let rb = b.stats().control_ratchets;
    assert!(ra >= 3, "dialler ratcheted {ra} times");
    assert!(rb >= 3, "listener ratcheted {rb} times");
    assert!(a.stats().rtt.is_some());
    // Keys still flow after several ratchet steps.
    let mut s = a.open_stream("dht/1").await.unwrap();
    s.write_all(b"after ratchet").await.unwrap();
    s.flush().await.unwrap();
    let (_, mut r) = b.accept_stream().await.unwrap();
    let mut buf = [0u8; 13];
    r.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"after ratchet");
}

#[tokio::test]
async fn noise_keys_rekey_on_the_counted_schedule() {
    let (a, b) = duplex_pair(fast_config()).await;
    let mut s = a.open_stream("blocks/1").await.unwrap();
    let reader = tokio::spawn(async move {
        let (_, mut r) = b.accept_stream().await.unwrap();
        let mut n = 0usize;
        let mut buf = vec![0u8; 65536];
        loop {
            let k = r.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        (n, b)
    });
    // Small flushed writes make one Noise message each: 5,000 > REKEY_INTERVAL.
    for _ in 0..5_000 {
        s.write_all(&[1u8; 10]).await.unwrap();
        s.flush().await.unwrap();
    }
    s.shutdown().await.unwrap();
    let (n, b) = reader.await.unwrap();
    assert_eq!(n, 50_000);
    assert!(a.stats().noise_rekeys_sent >= 1);
    assert!(b.stats().noise_rekeys_received >= 1);
}

#[tokio::test]
async fn a_key_captured_at_epoch_e_cannot_open_frames_of_epoch_e_plus_2() {
    use cairn_transport::stream_cipher::{FRAME_HEAD, StreamKey};
    let cfg = TransportConfig {
        rotate_after_bytes: 8 * 1024,
        rotate_after_ms: 0,
        max_frame_size: 4096,
        ..fast_config()
    };
    let (a, b) = duplex_pair(cfg).await;
    let mut s = a.open_stream("blocks/1").await.unwrap();
    let reader = tokio::spawn(async move {
        let (_, mut r) = b.accept_stream().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got.len()
    });
    let mut captured: Vec<(u32, [u8; 32])> = Vec::new();
    for _ in 0..200 {
        s.write_all(&[3u8; 4096]).await.unwrap();
        s.flush().await.unwrap();
        tokio::task::yield_now().await;
        let (epoch, _) = s.send_epoch();
        if captured.last().is_none_or(|(e, _)| *e != epoch) {
            captured.push((epoch, s.send_key_bytes_for_test()));
        }
    }
    let (_, cipher) = s.send_epoch();
    s.shutdown().await.unwrap();
    assert_eq!(reader.await.unwrap(), 200 * 4096);
    let (e, key_e) = captured[0];
    let (e2, key_e2) = *captured
        .iter()
        .find(|(x, _)| *x == e + 2)
        .expect("stream reached epoch e+2");
    assert_ne!(key_e, key_e2);
    // A frame sealed with the real epoch e+2 key opens with it, not with the e key.
    let mut frame = vec![0u8; FRAME_HEAD + 64 + 16];
    let n = StreamKey::new(cipher, e2, &key_e2)
        .seal(&mut frame, 64)
        .unwrap();
    let head: [u8; FRAME_HEAD] = frame[..FRAME_HEAD].try_into().unwrap();
    let mut copy = frame.clone();
    assert!(
        StreamKey::new(cipher, e2, &key_e2)
            .open(&head, &mut copy[FRAME_HEAD..n])
            .is_ok()
    );
    assert!(
        StreamKey::new(cipher, e2, &key_e)
            .open(&head, &mut frame[FRAME_HEAD..n])
            .is_err()
    );
}
