//! The `nurture` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    nurture::cli::main()
}
