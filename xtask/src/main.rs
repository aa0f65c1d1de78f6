//! Project tasks. Run `cargo xtask help`.

fn main() {
    eprintln!("xtask: not yet implemented");
    std::process::exit(2);
}
