//! The TCP options of `ClientBuilder` read back off a real connected socket: a client is
//! built through the public builder, its dialer (the one every connection of the pool
//! goes through) connects to a listener on 127.0.0.1, and `getsockopt` says what is set.

use std::time::Duration;

use socket2::SockRef;

use super::{Client, ClientBuilder};
use crate::conn::connect::DialReport;

/// What `getsockopt` says of a socket.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    nodelay: bool,
    keepalive: bool,
    /// Only read when keep-alive is on.
    keepalive_time: Option<Duration>,
    keepalive_interval: Option<Duration>,
    keepalive_retries: Option<u32>,
    user_timeout: Option<Duration>,
}

async fn read_back(builder: ClientBuilder) -> Read {
    let client: Client = builder.build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut report = DialReport::default();
    let stream = client
        .inner
        .config
        .dialer
        .connect("127.0.0.1", port, 80, None, &mut report)
        .await
        .unwrap();
    let socket = SockRef::from(&stream);
    let keepalive = socket.keepalive().unwrap();
    Read {
        nodelay: socket.tcp_nodelay().unwrap(),
        keepalive,
        keepalive_time: keepalive.then(|| socket.tcp_keepalive_time().unwrap()),
        keepalive_interval: keepalive.then(|| socket.tcp_keepalive_interval().unwrap()),
        keepalive_retries: keepalive.then(|| socket.tcp_keepalive_retries().unwrap()),
        user_timeout: socket.tcp_user_timeout().unwrap(),
    }
}

#[tokio::test]
async fn builder_tcp_options_are_set_on_each_connection() {
    // The system's own keep-alive values, read off a socket tether did not touch.
    let plain = tokio::net::TcpSocket::new_v4().unwrap();
    let raw = SockRef::from(&plain);
    let (time, interval, retries) = (
        raw.tcp_keepalive_time().unwrap(),
        raw.tcp_keepalive_interval().unwrap(),
        raw.tcp_keepalive_retries().unwrap(),
    );
    let secs = Duration::from_secs;
    let system = Read {
        nodelay: true,
        keepalive: false,
        keepalive_time: None,
        keepalive_interval: None,
        keepalive_retries: None,
        user_timeout: None,
    };
    let rows: Vec<(&str, ClientBuilder, Read)> = vec![
        ("defaults", Client::builder(), Read { ..system }),
        (
            "tcp_nodelay(false)",
            Client::builder().tcp_nodelay(false),
            Read {
                nodelay: false,
                ..system
            },
        ),
        (
            "all of keep-alive",
            Client::builder()
                .tcp_keepalive(secs(61))
                .tcp_keepalive_interval(secs(7))
                .tcp_keepalive_retries(4),
            Read {
                keepalive: true,
                keepalive_time: Some(secs(61)),
                keepalive_interval: Some(secs(7)),
                keepalive_retries: Some(4),
                ..system
            },
        ),
        (
            "the interval alone turns keep-alive on",
            Client::builder().tcp_keepalive_interval(secs(9)),
            Read {
                keepalive: true,
                keepalive_time: Some(time),
                keepalive_interval: Some(secs(9)),
                keepalive_retries: Some(retries),
                ..system
            },
        ),
        (
            "the retries alone turn keep-alive on",
            Client::builder().tcp_keepalive_retries(2),
            Read {
                keepalive: true,
                keepalive_time: Some(time),
                keepalive_interval: Some(interval),
                keepalive_retries: Some(2),
                ..system
            },
        ),
        (
            "tcp_user_timeout",
            Client::builder().tcp_user_timeout(Duration::from_millis(1500)),
            Read {
                user_timeout: Some(Duration::from_millis(1500)),
                ..system
            },
        ),
        (
            "set and taken back",
            Client::builder()
                .tcp_keepalive(secs(61))
                .tcp_keepalive(None)
                .tcp_user_timeout(secs(3))
                .tcp_user_timeout(None),
            Read { ..system },
        ),
    ];
    for (what, builder, expected) in rows {
        assert_eq!(read_back(builder).await, expected, "{what}");
    }
}
