mod common;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[tokio::test]
async fn dbg() {
    let _ = tracing_subscriber::fmt().with_env_filter("trace,yamux=debug").try_init();
    let (a, b) = duplex_pair(fast_config()).await;
    let t = tokio::spawn(async move {
        let (_, mut s) = b.accept_stream().await.unwrap();
        let mut got = Vec::new();
        let r = s.read_to_end(&mut got).await;
        eprintln!("server read {r:?} {}", got.len());
        b
    });
    let mut s = a.open_stream("blocks/1").await.unwrap();
    s.write_all(b"x").await.unwrap();
    s.shutdown().await.unwrap();
    let b = t.await.unwrap();
    eprintln!("{:?}", b.stats());
}
