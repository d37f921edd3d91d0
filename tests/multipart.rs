//! `multipart/form-data` bodies against a real parser: Python's `http.server` with the
//! standard library's email parser (`tests/servers/http_server.py`, `POST /multipart`),
//! which answers what it found in each part. A missing python3 skips these tests, unless
//! `TETHER_REQUIRE_SERVERS` is set.
#![cfg(feature = "json")]

mod servers;
mod support;

use bytes::Bytes;
use servers::{start_python, PythonProtocol, ServerProcess};
use support::stream::iter;
use tether::multipart::{Form, Part};

fn python(test: &str) -> Option<ServerProcess> {
    servers::installed("python3", "--version", test)
        .then(|| start_python(test, PythonProtocol::Http11))
}

/// What the server found.
#[derive(serde::Deserialize, Debug)]
struct Parsed {
    framing: String,
    defects: usize,
    parts: Vec<FoundPart>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct FoundPart {
    name: Option<String>,
    filename: Option<String>,
    #[serde(rename = "type")]
    media_type: String,
    language: Option<String>,
    /// Hex.
    data: String,
}

fn found(name: &str, filename: Option<&str>, media_type: &str, data: &[u8]) -> FoundPart {
    FoundPart {
        name: Some(name.to_owned()),
        filename: filename.map(str::to_owned),
        media_type: media_type.to_owned(),
        language: None,
        data: data.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

async fn post(client: &tether::Client, url: &str, form: Form) -> Parsed {
    let resp = client.post(url).multipart(form).send().await.expect("POST");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    resp.json().await.expect("the server's JSON")
}

/// Every byte value, so that nothing is taken as text on the way.
fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(3000).collect()
}

#[tokio::test]
async fn a_form_in_memory_goes_with_content_length_and_every_part_arrives_whole() {
    let Some(server) = python("multipart_in_memory") else {
        return;
    };
    let mut language = http::HeaderMap::new();
    language.insert("content-language", http::HeaderValue::from_static("fr"));
    let form = Form::new()
        .text("user", "alice")
        .part(
            "upload",
            Part::bytes(binary())
                .file_name("data.bin")
                .mime_str("application/octet-stream")
                .expect("media type"),
        )
        .part("note", Part::text("bonjour").headers(language))
        .text("empty", "")
        .text("é名", "unicode name");
    let client = tether::Client::new();
    let parsed = post(&client, &server.url("/multipart"), form).await;
    assert_eq!((parsed.framing.as_str(), parsed.defects), ("length", 0));
    let mut note = found("note", None, "text/plain", b"bonjour");
    note.language = Some("fr".into());
    assert_eq!(
        parsed.parts,
        [
            found("user", None, "text/plain", b"alice"),
            found(
                "upload",
                Some("data.bin"),
                "application/octet-stream",
                &binary()
            ),
            note,
            found("empty", None, "text/plain", b""),
            found("é名", None, "text/plain", b"unicode name"),
        ]
    );
}

#[tokio::test]
async fn quotes_and_line_breaks_in_names_cannot_break_out_of_their_header() {
    let Some(server) = python("multipart_names") else {
        return;
    };
    // Unescaped, the quote would end the name and the CRLF the header line, making a
    // header of `X-Injected`.
    let form = Form::new().part(
        "a\"b\r\nX-Injected: 1",
        Part::text("v").file_name("c\".txt"),
    );
    let parsed = post(&tether::Client::new(), &server.url("/multipart"), form).await;
    assert_eq!(parsed.defects, 0);
    assert_eq!(
        parsed.parts,
        [found(
            "a%22b%0D%0AX-Injected: 1",
            Some("c%22.txt"),
            "text/plain",
            b"v"
        )]
    );
}

#[tokio::test]
async fn a_form_with_a_streamed_part_goes_chunked() {
    let Some(server) = python("multipart_stream") else {
        return;
    };
    let form = Form::new()
        .text("before", "1")
        .part("streamed", Part::stream(binary_stream()).file_name("s.bin"));
    let parsed = post(&tether::Client::new(), &server.url("/multipart"), form).await;
    assert_eq!((parsed.framing.as_str(), parsed.defects), ("chunked", 0));
    assert_eq!(
        parsed.parts,
        [
            found("before", None, "text/plain", b"1"),
            found("streamed", Some("s.bin"), "text/plain", &binary()),
        ]
    );
}

/// `binary()` in pieces of 700 bytes, as a body stream.
fn binary_stream() -> tether::Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = binary()
        .chunks(700)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    tether::Body::wrap_stream(iter(chunks))
}

#[tokio::test]
async fn streamed_parts_of_known_length_make_a_form_of_known_length() {
    let Some(server) = python("multipart_stream_length") else {
        return;
    };
    let form = Form::new().text("before", "1").part(
        "streamed",
        Part::stream_with_length(binary_stream(), binary().len() as u64).file_name("s.bin"),
    );
    let parsed = post(&tether::Client::new(), &server.url("/multipart"), form).await;
    assert_eq!((parsed.framing.as_str(), parsed.defects), ("length", 0));
    assert_eq!(
        parsed.parts,
        [
            found("before", None, "text/plain", b"1"),
            found("streamed", Some("s.bin"), "text/plain", &binary()),
        ]
    );
    // A part whose stream is not its length fails the request before it is complete.
    for length in [binary().len() as u64 - 1, binary().len() as u64 + 1] {
        let form = Form::new().part("short", Part::stream_with_length(binary_stream(), length));
        let err = tether::Client::new()
            .post(server.url("/multipart"))
            .multipart(form)
            .send()
            .await
            .expect_err("the part is not its length");
        assert!(err.to_string().contains("multipart stream"), "{err}");
        assert!(!err.request_fully_written(), "{err}");
    }
    // The server logs every request it read to its end or to the client's close; it
    // answers only those whose body was as long as their Content-Length.
    let log = server.wait_log_lines(3);
    let answered: Vec<_> = log.iter().filter(|l| !l.ends_with(" truncated")).collect();
    assert_eq!(
        answered.len(),
        1,
        "only the whole form was answered: {log:?}"
    );
    assert_eq!(log.len(), 3, "{log:?}");
}

#[tokio::test]
async fn a_form_in_memory_follows_a_307_with_its_body() {
    let Some(server) = python("multipart_307") else {
        return;
    };
    let form = Form::new().text("kept", "across the redirect");
    let parsed = post(&tether::Client::new(), &server.url("/multipart-307"), form).await;
    assert_eq!(
        parsed.parts,
        [found("kept", None, "text/plain", b"across the redirect")]
    );
    let log = server.wait_log_lines(2);
    assert!(log[0].contains("POST /multipart-307 307"), "{log:?}");
    assert!(log[1].contains("POST /multipart 200"), "{log:?}");
}

#[tokio::test]
async fn a_file_part_is_read_as_it_is_sent_with_its_name_length_and_media_type() {
    let Some(server) = python("multipart_file") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tether-multipart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("Photo.PNG");
    // Every byte value, over several of the pieces the file is read in.
    let data: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    std::fs::write(&path, &data).expect("the file written");
    let form = Form::new()
        .text("before", "1")
        .file("upload", &path)
        .await
        .expect("the file opens");
    let missing = Form::new().file("x", dir.join("missing.bin")).await;
    let parsed = post(&tether::Client::new(), &server.url("/multipart"), form).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        missing.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
    // Its length was known when it was opened: the form goes with `Content-Length`.
    assert_eq!((parsed.framing.as_str(), parsed.defects), ("length", 0));
    assert_eq!(
        parsed.parts,
        [
            found("before", None, "text/plain", b"1"),
            found("upload", Some("Photo.PNG"), "image/png", &data),
        ]
    );
}

/// The `percent_encode_*` modes: names that need it go as `name*=utf-8''…` (RFC 2231,
/// which Python's email parser decodes back to the name), others as `name="…"`; a line
/// break or a quote cannot break out either way; file names keep browsers' form. The
/// bytes a test server received show which form each mode chose.
#[tokio::test]
async fn percent_encoded_names_arrive_as_they_were_given() {
    let Some(server) = python("multipart_percent_names") else {
        return;
    };
    let recorder = support::TestServer::start(support::Script::new()).await;
    let names = ["plain", "a b", "pré/nom%", "x!y", "q\"\r\nX-Injected: 1"];
    type Mode = fn(Form) -> Form;
    // (mode, the form each of `names` takes there)
    let modes: [(&str, Mode, [&str; 5]); 3] = [
        (
            "path segment",
            Form::percent_encode_path_segment,
            [
                "name=\"plain\"",
                "name*=utf-8''a%20b",
                "name*=utf-8''pr%C3%A9%2Fnom%25",
                "name=\"x!y\"",
                "name*=utf-8''q%22%0D%0AX-Injected:%201",
            ],
        ),
        (
            "attr chars",
            Form::percent_encode_attr_chars,
            [
                "name=\"plain\"",
                "name*=utf-8''a%20b",
                "name*=utf-8''pr%C3%A9%2Fnom%25",
                "name=\"x!y\"",
                "name*=utf-8''q%22%0D%0AX-Injected%3A%201",
            ],
        ),
        (
            "noop",
            Form::percent_encode_noop,
            [
                "name=\"plain\"",
                "name=\"a b\"",
                "name=\"pré/nom%\"",
                "name=\"x!y\"",
                "name=\"q%22%0D%0AX-Injected: 1\"",
            ],
        ),
    ];
    let client = tether::Client::new();
    for (mode, set_mode, forms) in modes {
        let form = || {
            names.iter().fold(set_mode(Form::new()), |form, name| {
                form.part(*name, Part::text("v").file_name("f é.txt"))
            })
        };
        let resp = client
            .post(recorder.url("/"))
            .multipart(form())
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), 200);
        let raw = recorder.requests().pop().expect("recorded").body;
        let raw = String::from_utf8(raw).expect("UTF-8");
        for written in forms {
            let line =
                format!("Content-Disposition: form-data; {written}; filename=\"f é.txt\"\r\n");
            assert!(raw.contains(&line), "{mode}: {line:?} in\n{raw}");
        }

        let parsed = post(&client, &server.url("/multipart"), form()).await;
        assert_eq!(parsed.defects, 0, "{mode}");
        let got: Vec<Option<&str>> = parsed.parts.iter().map(|p| p.name.as_deref()).collect();
        // Browsers' form writes `"`, CR and LF as %22, %0D, %0A, which a parser keeps as
        // they are; the extended form is decoded. The path segment set leaves `:` as it
        // is, which RFC 5987 does not allow there: Python's parser ends the name at it
        // (reqwest's default does the same; the attr-char set is the strict one).
        let last = match mode {
            "noop" => "q%22%0D%0AX-Injected: 1",
            "path segment" => "q\"\r\nX-Injected",
            _ => names[4],
        };
        let want = [names[0], names[1], names[2], names[3], last].map(Some);
        assert_eq!(got, want, "{mode}");
        assert!(
            parsed
                .parts
                .iter()
                .all(|p| p.filename.as_deref() == Some("f é.txt")),
            "{mode}: {:?}",
            parsed.parts
        );
    }
}
