//! The store over S3, against a real S3-compatible server: `moto_server`
//! (PyPI `moto[server]`) started on a free loopback port, the bucket made
//! by the test. Skips, saying why, when `moto_server` is not installed.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_same_snapshot, boot, boot_id};
use ksym::snapshot::to_bytes;
use ksym_store::{Error, Store};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

/// The server, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: moto_server cannot be started ({e}); `pip install 'moto[server]'` (.ci/install-deps)");
            return None;
        }
    };
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {port} in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// `PUT /bucket` in plain HTTP: moto makes buckets without a signature.
fn make_bucket(port: u16, bucket: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "making bucket {bucket}: {reply}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_against_moto() {
    let Some(moto) = start_moto() else { return };
    make_bucket(moto.port, "ksym-test");
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    // This test binary's own environment: the store reads the usual variables.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        std::env::set_var(k, v);
    }
    let store = Store::from_url("s3://ksym-test/fleet/a").unwrap();

    let snapshot = boot(0);
    let first = store.put_snapshot(&snapshot).await.unwrap();
    eprintln!("{first:?}");
    assert!(
        first.objects_written > 40 && first.objects_reused == 0,
        "{first:?}"
    );
    assert_same_snapshot(&snapshot, &store.get_snapshot(&boot_id(0)).await.unwrap());
    // Conditional puts: a second push writes nothing.
    let again = store.put_snapshot(&snapshot).await.unwrap();
    assert_eq!(
        (again.objects_written, again.objects_reused),
        (0, first.objects_written)
    );
    // Another boot of the same kernel shares its core and modules.
    let second = store.put_snapshot(&boot(1)).await.unwrap();
    assert!(second.objects_reused > 30, "{second:?}");

    // Two different snapshots of one boot at once: one is a conflict.
    let (table, mut identity) = common::open(&boot(3));
    identity.boot_id = Some(boot_id(2));
    let other = to_bytes(&table, &identity);
    let mine = boot(2);
    let (x, y) = tokio::join!(store.put_snapshot(&mine), store.put_snapshot(&other));
    let results = [x, y];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(matches!(loser, Error::Conflict { .. }), "{loser}");

    let err = store.get_snapshot(&boot_id(99)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");

    // A damaged object, written behind the store's back: refused by name.
    let raw = AmazonS3Builder::from_env()
        .with_bucket_name("ksym-test")
        .build()
        .unwrap();
    let record = raw
        .get(&ObjectPath::from(format!(
            "fleet/a/boots/{}.json",
            boot_id(0)
        )))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8(record.to_vec()).unwrap();
    let core = text
        .split("\"object\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let path = ObjectPath::from(format!("fleet/a/{core}"));
    let mut bytes = raw
        .get(&path)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    bytes[1000] ^= 0x40;
    raw.put(&path, PutPayload::from(bytes)).await.unwrap();
    let err = store.get_snapshot(&boot_id(0)).await.unwrap_err();
    match &err {
        Error::Damaged { object, .. } => assert_eq!(object, core),
        other => panic!("{other}"),
    }
}
