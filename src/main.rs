//! The `migrate` command line: a thin shell over the library.

fn main() -> std::process::ExitCode {
    migrate::cli::main()
}
