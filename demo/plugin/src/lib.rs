//! The demo's plugin: `process` is what the host calls every second.
//! Change it, run `cargo build --release`, and watch the host pick up the
//! new code without restarting.

use std::cell::Cell;
use std::ffi::{c_char, CStr};

thread_local! {
    // How often this copy of the plugin ran on the calling thread. A
    // `const` initializer without a destructor: the host's thread then owes
    // the plugin nothing when it is unloaded.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// What the host prints after each call.
#[no_mangle]
pub extern "C" fn describe() -> *const c_char {
    static TEXT: &CStr = c"doubles its input";
    TEXT.as_ptr()
}

/// The work the host asks for.
#[no_mangle]
pub extern "C" fn process(x: u64) -> u64 {
    CALLS.with(|c| c.set(c.get() + 1));
    x * 2
}

/// How often `process` ran on the calling thread since this copy loaded.
#[no_mangle]
pub extern "C" fn calls() -> u64 {
    CALLS.with(|c| c.get())
}
