//! This application's own migrator binary: the `migrate` command line as a
//! library function, e.g. for a container image without the `migrate` tool.

fn main() -> std::process::ExitCode {
    migrate::cli::main()
}
