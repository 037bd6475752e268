//! The `deploydb` binary: parse, run, exit with the documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = deploydb::main_with_args(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
