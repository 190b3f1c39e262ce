//! The Rust plugin, built on this machine (glibc 2.36): std alone imports
//! pthread_key_create@GLIBC_2.34, stat64@GLIBC_2.33,
//! pthread_getattr_np@GLIBC_2.32 and more an older glibc lacks.
use std::cell::Cell;
use std::ffi::CStr;
use std::os::raw::c_char;

thread_local! {
    static MINE: Cell<i64> = Cell::new(0);
}

/// Each thread keeps its own thread_local value: the sum of 1..n.
#[no_mangle]
pub extern "C" fn rust_threads(n: i32) -> i64 {
    let handles: Vec<_> = (1..=n as i64)
        .map(|i| {
            std::thread::spawn(move || {
                MINE.with(|m| m.set(m.get() + i));
                MINE.with(|m| m.get())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap_or(-1000)).sum()
}

#[no_mangle]
pub extern "C" fn rust_file_len(path: *const c_char) -> i64 {
    let path = unsafe { CStr::from_ptr(path) };
    match path.to_str().ok().and_then(|p| std::fs::metadata(p).ok()) {
        Some(m) => m.len() as i64,
        None => -1,
    }
}

#[no_mangle]
pub extern "C" fn rust_math(x: f64) -> f64 {
    x.powf(1.5) + x.exp() + x.ln() + x.hypot(2.0)
}
