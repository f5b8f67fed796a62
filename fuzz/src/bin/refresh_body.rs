//! AFL++ target: `cargo afl build --release && cargo afl fuzz -i corpus/refresh_body -o out/refresh_body target/release/refresh_body`.

#[path = "../targets.rs"]
mod targets;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        targets::refresh_body(data);
    });
}
