//! Replays the saved fuzz corpus (`fuzz/corpus/<target>/*`, grown by the afl.rs runs
//! described in `fuzz/README.md`) through the same targets: short enough for CI, and a
//! regression test for every input a fuzz run kept.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        run(&data);
        n += 1;
    }
    assert!(n > 0, "an empty corpus for {target}");
    n
}

#[test]
fn token_corpus_replays_without_a_finding() {
    eprintln!("token corpus: {} inputs", replay("token", targets::token));
}

#[test]
fn header_corpus_replays_without_a_finding() {
    eprintln!(
        "headers corpus: {} inputs",
        replay("headers", targets::headers)
    );
}

#[test]
fn refresh_body_corpus_replays_without_a_finding() {
    eprintln!(
        "refresh_body corpus: {} inputs",
        replay("refresh_body", targets::refresh_body)
    );
}
