//! AFL++ target: `cargo afl build --release && cargo afl fuzz -i corpus/token -o out/token target/release/token`.

#[path = "../targets.rs"]
mod targets;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        targets::token(data);
    });
}
