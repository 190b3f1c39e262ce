//! A std-only Rust plugin for tests/check_rust.c: output, threads,
//! thread-locals with destructors, panics caught, collections, files,
//! the environment and the command line.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::thread;

static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops: one per thread that used it, when the thread exits.
struct Counted {
    value: Cell<u32>,
    log: RefCell<Vec<u32>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        // The object must still be intact when it is dropped.
        if self.log.borrow().len() as u32 == self.value.get() - 5 {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

thread_local! {
    static COUNTED: Counted = Counted { value: Cell::new(5), log: RefCell::new(Vec::new()) };
    static FRESH: Cell<u64> = Cell::new(0x5eed);
}

/// Uses this thread's COUNTED; returns the value it found (5 if fresh).
fn touch() -> u32 {
    COUNTED.with(|c| {
        let v = c.value.get();
        c.value.set(v + 1);
        c.log.borrow_mut().push(v);
        v
    })
}

unsafe fn out(buf: *mut c_char, cap: usize, s: &str) -> c_int {
    if s.len() + 1 > cap {
        return -1;
    }
    std::ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, s.len());
    *buf.add(s.len()) = 0;
    s.len() as c_int
}

#[no_mangle]
pub extern "C" fn rust_hello(n: c_int) -> c_int {
    println!("rust says hello {}", n);
    n + 1
}

/// Spawns N threads, each summing its share of 0..1000 and touching its
/// thread-locals; returns the total, or -1 if a thread saw a used copy.
#[no_mangle]
pub extern "C" fn rust_threads(n: u32) -> i64 {
    let handles: Vec<_> = (0..n)
        .map(|k| {
            thread::spawn(move || {
                let fresh = FRESH.with(|f| {
                    let v = f.get();
                    f.set(k as u64);
                    v
                });
                let first = touch();
                touch();
                let part: i64 = (0..1000i64).filter(|i| i % n as i64 == k as i64).sum();
                if fresh == 0x5eed && first == 5 { part } else { -1_000_000 }
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap_or(-1_000_000)).sum()
}

/// Touches the calling thread's COUNTED (a host thread, say).
#[no_mangle]
pub extern "C" fn rust_touch() -> u32 {
    touch()
}

#[no_mangle]
pub extern "C" fn rust_drops() -> usize {
    DROPS.load(Ordering::SeqCst)
}

/// Panics if CODE > 0 and catches it: 1000 + CODE if the payload is the
/// message, CODE if there was no panic.
#[no_mangle]
pub extern "C" fn rust_catch(code: c_int) -> c_int {
    // Quiet panics, set once: hooks are process-wide and callers may be
    // in several threads at once.
    static QUIET: Once = Once::new();
    QUIET.call_once(|| panic::set_hook(Box::new(|_| {})));
    let r = panic::catch_unwind(|| {
        let v = vec![code; 4];
        if code > 0 {
            panic!("boom {}", code);
        }
        v[3]
    });
    match r {
        Ok(v) => v,
        Err(payload) => match payload.downcast_ref::<String>() {
            Some(s) if *s == format!("boom {}", code) => 1000 + code,
            _ => -1,
        },
    }
}

/// Maps i to i*i for i < N, removes the even keys, returns the sum of what
/// is left.
#[no_mangle]
pub extern "C" fn rust_hashmap(n: u64) -> u64 {
    let mut m: HashMap<u64, u64> = HashMap::new();
    for i in 0..n {
        m.insert(i, i * i);
    }
    for i in (0..n).step_by(2) {
        m.remove(&i);
    }
    (0..n).filter_map(|i| m.get(&i)).sum()
}

/// Writes TEXT to the file PATH, reads it back, appends, and returns the
/// file's final size (-1 on a mismatch or an error).
#[no_mangle]
pub unsafe extern "C" fn rust_fs(path: *const c_char, text: *const c_char) -> i64 {
    let path = CStr::from_ptr(path).to_string_lossy().into_owned();
    let text = CStr::from_ptr(text).to_string_lossy().into_owned();
    if std::fs::write(&path, &text).is_err() {
        return -1;
    }
    match std::fs::read_to_string(&path) {
        Ok(s) if s == text => {}
        _ => return -1,
    }
    use std::io::Write;
    let mut f = match std::fs::OpenOptions::new().append(true).open(&path) {
        Ok(f) => f,
        Err(_) => return -1,
    };
    if f.write_all(b"+rust").is_err() {
        return -1;
    }
    drop(f);
    std::fs::metadata(&path).map(|m| m.len() as i64).unwrap_or(-1)
}

/// The environment variable NAME as std::env sees it, into BUF.
#[no_mangle]
pub unsafe extern "C" fn rust_env(name: *const c_char, buf: *mut c_char, cap: usize) -> c_int {
    let name = CStr::from_ptr(name).to_string_lossy().into_owned();
    match std::env::var(&name) {
        Ok(v) => out(buf, cap, &v),
        Err(_) => -2,
    }
}

/// The process's arguments as std::env::args() gives them, joined by
/// newlines, into BUF; returns their number.
#[no_mangle]
pub unsafe extern "C" fn rust_args(buf: *mut c_char, cap: usize) -> c_int {
    let args: Vec<String> = std::env::args().collect();
    if out(buf, cap, &args.join("\n")) < 0 {
        return -1;
    }
    args.len() as c_int
}

/// A string made in Rust, freed in Rust.
#[no_mangle]
pub extern "C" fn rust_string(n: u32) -> *mut c_char {
    let s: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    CString::new(s).map(|c| c.into_raw()).unwrap_or(std::ptr::null_mut())
}

#[no_mangle]
pub unsafe extern "C" fn rust_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}
