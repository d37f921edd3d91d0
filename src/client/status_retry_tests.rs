use super::*;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap()
}

const NOW: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

fn delay(
    policy: &RetryPolicy,
    status: u16,
    retry_after: Option<&str>,
    retries: u32,
) -> Option<Duration> {
    let status = StatusCode::from_u16(status).unwrap();
    let value = retry_after.map(header);
    policy.delay(status, value.as_ref(), retries, at(NOW), 0.5)
}

#[test]
fn the_default_retries_429_and_503_once_after_a_short_retry_after() {
    let p = RetryPolicy::default();
    let s = Duration::from_secs;
    // (status, Retry-After, retries so far) -> delay
    let table: &[(u16, Option<&str>, u32, Option<Duration>)] = &[
        (503, Some("2"), 0, Some(s(2))),
        (429, Some("0"), 0, Some(s(0))),
        (429, Some("10"), 0, Some(s(10))),
        (429, Some("11"), 0, None),
        (503, Some("2"), 1, None),
        (503, None, 0, None),
        (502, Some("1"), 0, None),
        (500, Some("1"), 0, None),
        (200, Some("1"), 0, None),
        (503, Some("99999999999999999999999"), 0, None),
        (503, Some("-1"), 0, None),
        (503, Some("soon"), 0, None),
        (503, Some("Sun, 06 Nov 1994 08:49:42 GMT"), 0, Some(s(5))),
        (503, Some("Sun, 06 Nov 1994 08:50:37 GMT"), 0, None),
        (503, Some("Sun, 06 Nov 1994 08:00:00 GMT"), 0, Some(s(0))),
    ];
    for &(status, ra, retries, want) in table {
        assert_eq!(
            delay(&p, status, ra, retries),
            want,
            "{status} {ra:?} {retries}"
        );
    }
}

#[test]
fn never_retries_nothing() {
    let p = RetryPolicy::never();
    assert!(p.is_off());
    assert_eq!(delay(&p, 503, Some("1"), 0), None);
    assert!(!RetryPolicy::default().is_off());
    assert!(RetryPolicy::default().statuses([]).is_off());
}

#[test]
fn opted_in_statuses_attempts_and_backoff_with_full_jitter() {
    let p = RetryPolicy::default()
        .statuses([502, 503, 504])
        .max_retries(4)
        .backoff(Duration::from_millis(100))
        .max_delay(Duration::from_millis(500));
    let status = StatusCode::BAD_GATEWAY;
    let d = |retries, random| p.delay(status, None, retries, at(NOW), random);
    // The ceiling doubles per retry: 100, 200, 400, then the cap of 500 ms.
    assert_eq!(d(0, 0.5), Some(Duration::from_millis(50)));
    assert_eq!(d(1, 0.5), Some(Duration::from_millis(100)));
    assert_eq!(d(2, 0.5), Some(Duration::from_millis(200)));
    assert_eq!(d(3, 0.5), Some(Duration::from_millis(250)));
    assert_eq!(d(4, 0.5), None, "four retries at most");
    // Full jitter: anywhere from nothing up to the ceiling.
    assert_eq!(d(1, 0.0), Some(Duration::ZERO));
    assert!(d(1, 0.999).unwrap() < Duration::from_millis(200));
    // A Retry-After wins over the backoff; past max_delay there is no retry.
    let with = |v: &str| p.delay(status, Some(&header(v)), 0, at(NOW), 0.5);
    assert_eq!(with("0"), Some(Duration::ZERO));
    assert_eq!(with("1"), None);
    // An unreadable one is as if absent: the backoff applies.
    assert_eq!(with("later"), Some(Duration::from_millis(50)));
    // 429 was dropped from the statuses.
    assert_eq!(
        p.delay(StatusCode::TOO_MANY_REQUESTS, None, 0, at(NOW), 0.5),
        None
    );
}

#[test]
fn a_huge_retry_count_or_base_does_not_overflow() {
    let p = RetryPolicy::default()
        .max_retries(u32::MAX)
        .backoff(Duration::MAX)
        .max_delay(Duration::from_secs(3));
    let d = p.delay(StatusCode::SERVICE_UNAVAILABLE, None, 1000, at(NOW), 1.0);
    assert_eq!(d, Some(Duration::from_secs(3)));
}

#[test]
fn imf_fixdates_parse_and_malformed_ones_do_not() {
    assert_eq!(
        parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(at(NOW))
    );
    assert_eq!(
        parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"),
        Some(at(0))
    );
    assert_eq!(
        parse_imf_fixdate("Tue, 29 Feb 2000 12:00:00 GMT"),
        Some(at(951_825_600))
    );
    assert_eq!(
        parse_imf_fixdate("Wed, 02 Dec 2026 00:00:00 GMT"),
        Some(at(1_796_169_600))
    );
    for bad in [
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
    ] {
        assert_eq!(parse_imf_fixdate(bad), None, "{bad:?}");
    }
}

#[test]
fn covers_what_was_listed_below_and_above_the_default_statuses() {
    let code = |n: u16| StatusCode::from_u16(n).unwrap();
    let policy = RetryPolicy::default().statuses([503, 404]);
    for (n, covered) in [
        (404, true),
        (503, true),
        (200, false),
        (429, false),
        (500, false),
    ] {
        assert_eq!(policy.covers(code(n)), covered, "{n}");
    }
    assert!(RetryPolicy::default().statuses([200]).covers(code(200)));
    assert!(!RetryPolicy::default().statuses([]).covers(code(429)));
    assert!(RetryPolicy::default().covers(code(429)));
    assert!(!RetryPolicy::default().covers(code(200)));
}
