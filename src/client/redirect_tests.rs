//! The next-hop decision as a table: each redirect status with each method, `Location`
//! forms, unusable locations, limits, loops and custom policies.

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

fn decide(status: u16, method: Method, location: Option<&str>, replayable: bool) -> Next {
    let here = url("http://a.test/dir/page?x=1#top");
    let chain = vec![(method.clone(), here.clone())];
    let loc = location.map(hv);
    next(
        &Policy::default(),
        StatusCode::from_u16(status).unwrap(),
        loc.as_ref(),
        Current {
            method: &method,
            url: &here,
            body_replayable: replayable,
            chain: &chain,
        },
    )
}

fn hop(n: Next) -> Hop {
    match n {
        Next::Follow(h) => h,
        other => panic!("expected a hop, got {other:?}"),
    }
}

#[test]
fn methods_and_bodies_by_status() {
    let rows: &[(u16, Method, Method, bool)] = &[
        (301, Method::POST, Method::GET, false),
        (302, Method::POST, Method::GET, false),
        (301, Method::PUT, Method::PUT, true),
        (302, Method::GET, Method::GET, true),
        (303, Method::POST, Method::GET, false),
        (303, Method::PUT, Method::GET, false),
        (303, Method::DELETE, Method::GET, false),
        (303, Method::HEAD, Method::HEAD, false),
        (307, Method::POST, Method::POST, true),
        (308, Method::PUT, Method::PUT, true),
        (307, Method::GET, Method::GET, true),
    ];
    for (status, from, to, keep) in rows {
        let h = hop(decide(*status, from.clone(), Some("/next"), true));
        assert_eq!((&h.method, h.keep_body), (to, *keep), "{status} {from}");
    }
}

#[test]
fn a_stream_body_ends_the_chain_where_the_body_would_be_resent() {
    assert!(matches!(
        decide(307, Method::POST, Some("/n"), false),
        Next::Return
    ));
    assert!(matches!(
        decide(308, Method::PUT, Some("/n"), false),
        Next::Return
    ));
    // 303 drops the body, so a stream is no obstacle.
    assert_eq!(
        hop(decide(303, Method::POST, Some("/n"), false)).method,
        Method::GET
    );
}

#[test]
fn location_forms_resolve_against_the_current_url() {
    let rows = [
        ("/abs", "http://a.test/abs#top"),
        ("rel", "http://a.test/dir/rel#top"),
        ("../up?q=2", "http://a.test/up?q=2#top"),
        ("//b.test/x", "http://b.test/x#top"),
        ("https://c.test:8443/y#frag", "https://c.test:8443/y#frag"),
        ("  /spaced  ", "http://a.test/spaced#top"),
    ];
    for (location, want) in rows {
        let h = hop(decide(302, Method::GET, Some(location), true));
        assert_eq!(h.url.as_str(), want, "{location}");
    }
    assert!(hop(decide(302, Method::GET, Some("/same"), true)).same_origin);
    assert!(!hop(decide(302, Method::GET, Some("//b.test/"), true)).same_origin);
    assert!(!hop(decide(302, Method::GET, Some("https://a.test/"), true)).same_origin);
    assert!(!hop(decide(302, Method::GET, Some("http://a.test:81/"), true)).same_origin);
}

#[test]
fn unusable_locations_and_other_statuses_return_the_response() {
    for location in [
        None,
        Some("ftp://a.test/f"),
        Some("http://"),
        Some("mailto:x@y"),
    ] {
        assert!(
            matches!(decide(302, Method::GET, location, true), Next::Return),
            "{location:?}"
        );
    }
    for status in [200, 300, 304, 305, 306, 404] {
        assert!(matches!(
            decide(status, Method::GET, Some("/x"), true),
            Next::Return
        ));
    }
}

fn chain_of(n: usize) -> Vec<(Method, Url)> {
    (0..n)
        .map(|i| (Method::GET, url(&format!("http://a.test/{i}"))))
        .collect()
}

fn decide_with(policy: &Policy, chain: &[(Method, Url)], location: &str) -> Next {
    let (method, here) = chain.last().cloned().unwrap();
    next(
        policy,
        StatusCode::FOUND,
        Some(&hv(location)),
        Current {
            method: &method,
            url: &here,
            body_replayable: true,
            chain,
        },
    )
}

#[test]
fn the_limit_and_loops_are_errors_naming_the_next_url() {
    let policy = Policy::limited(3);
    assert!(matches!(
        decide_with(&policy, &chain_of(3), "/next"),
        Next::Follow(_)
    ));
    match decide_with(&policy, &chain_of(4), "/next") {
        Next::Fail(e) => {
            assert_eq!(e.kind(), ErrorKind::Redirect);
            assert_eq!(e.url().map(Url::as_str), Some("http://a.test/next"));
        }
        other => panic!("{other:?}"),
    }
    match decide_with(&policy, &chain_of(2), "/0") {
        Next::Fail(e) => assert!(e.to_string().contains("loop"), "{e}"),
        other => panic!("{other:?}"),
    }
    // The same URL with another method is no loop (POST /form, 303, GET /form).
    let chain = vec![(Method::POST, url("http://a.test/form"))];
    let policy = Policy::default();
    let here = url("http://a.test/form");
    let n = next(
        &policy,
        StatusCode::SEE_OTHER,
        Some(&hv("/form")),
        Current {
            method: &Method::POST,
            url: &here,
            body_replayable: true,
            chain: &chain,
        },
    );
    assert!(matches!(n, Next::Follow(_)), "{n:?}");
    assert!(matches!(
        decide_with(&Policy::none(), &chain_of(1), "/x"),
        Next::Return
    ));
}

#[test]
fn a_custom_policy_sees_status_next_and_previous() {
    let policy = Policy::custom(|a| {
        if a.url().path() == "/stop" {
            a.stop()
        } else if a.url().path() == "/bad" {
            a.error("refused")
        } else {
            assert_eq!(a.status(), StatusCode::FOUND);
            assert_eq!(a.previous().len(), 2);
            a.follow()
        }
    });
    assert!(matches!(
        decide_with(&policy, &chain_of(2), "/go"),
        Next::Follow(_)
    ));
    assert!(matches!(
        decide_with(&policy, &chain_of(2), "/stop"),
        Next::Return
    ));
    match decide_with(&policy, &chain_of(2), "/bad") {
        Next::Fail(e) => assert_eq!(e.kind(), ErrorKind::Redirect),
        other => panic!("{other:?}"),
    }
}

/// `Referer` by strict-origin-when-cross-origin: the whole URL (no fragment, no user
/// information) within the origin, the origin alone to another (a token in the query
/// stays home), nothing from https to http.
#[test]
fn the_referer_is_the_whole_url_at_home_the_origin_abroad_and_nothing_downgraded() {
    // (from, to, Referer)
    let rows: &[(&str, &str, Option<&str>)] = &[
        (
            "http://a.test/p?token=1#top",
            "http://a.test/q",
            Some("http://a.test/p?token=1"),
        ),
        (
            "https://u:pw@a.test:8443/p?x#f",
            "https://a.test:8443/q",
            Some("https://a.test:8443/p?x"),
        ),
        (
            "http://a.test/p?token=1",
            "http://b.test/q",
            Some("http://a.test/"),
        ),
        (
            "http://a.test/p",
            "http://a.test:81/q",
            Some("http://a.test/"),
        ),
        (
            "http://a.test/p",
            "https://a.test/q",
            Some("http://a.test/"),
        ),
        (
            "https://a.test/p?token=1",
            "https://b.test/",
            Some("https://a.test/"),
        ),
        ("https://a.test/p", "http://a.test/p", None),
        ("https://a.test/p", "http://b.test/", None),
    ];
    for &(from, to, expected) in rows {
        let Next::Follow(hop) = next(
            &Policy::default(),
            StatusCode::FOUND,
            Some(&hv(to)),
            Current {
                method: &Method::GET,
                url: &url(from),
                body_replayable: true,
                chain: &[(Method::GET, url(from))],
            },
        ) else {
            panic!("{from} -> {to}: not followed");
        };
        let got = hop.referer.as_ref().map(|v| v.to_str().unwrap());
        assert_eq!(got, expected, "{from} -> {to}");
    }
}
