//! Fetches one URL and prints the status, the headers and the body's length.
//!
//! Run: `cargo run --example get -- http://127.0.0.1:8080/`

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: get URL");
        return ExitCode::from(2);
    };
    match fetch(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error ({:?}): {e}", e.kind());
            ExitCode::FAILURE
        }
    }
}

async fn fetch(url: &str) -> Result<(), tether::Error> {
    let client = tether::Client::new();
    let mut response = client.get(url).send().await?;
    println!("{:?} {}", response.version(), response.status());
    for (name, value) in response.headers() {
        println!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
    }
    let mut length = 0;
    while let Some(chunk) = response.chunk().await? {
        length += chunk.len();
    }
    println!("\nbody: {length} bytes");
    Ok(())
}
