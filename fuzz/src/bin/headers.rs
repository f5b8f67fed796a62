//! AFL++ target: `cargo afl build --release && cargo afl fuzz -i corpus/headers -o out/headers target/release/headers`.

#[path = "../targets.rs"]
mod targets;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        targets::headers(data);
    });
}
