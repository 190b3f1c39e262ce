//! The soak test's plugin (tests/check_soak.c): each call spawns threads
//! that fill a `thread_local!` buffer with a destructor, and joins them.
//! Opened, called and closed thousands of times, it must leave nothing
//! behind: no memory, mappings, descriptors or TLS module ids.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Scratch {
    buf: Vec<u64>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch { buf: Vec::new() });
}

/// Spawns `threads` threads, each pushing 0..n (times its number plus one)
/// into its thread-local buffer; returns the sum of all of it.
#[no_mangle]
pub extern "C" fn soak_run(threads: u32, n: u32) -> u64 {
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            thread::Builder::new()
                .name(format!("soak-{t}"))
                .spawn(move || {
                    SCRATCH.with(|s| {
                        let mut s = s.borrow_mut();
                        s.buf.extend((0..n as u64).map(|i| i * (t + 1)));
                        s.buf.iter().sum::<u64>()
                    })
                })
                .expect("spawn")
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("join")).sum()
}

/// How many thread-local buffers have been dropped since this copy of the
/// plugin was loaded.
#[no_mangle]
pub extern "C" fn soak_drops() -> usize {
    DROPS.load(Ordering::SeqCst)
}

#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

#[repr(C)]
struct DlPhdrInfo {
    addr: usize,
    name: *const u8,
    phdr: *const Phdr,
    phnum: u16,
    adds: u64,
    subs: u64,
    tls_modid: usize,
    tls_data: *mut c_void,
}

extern "C" {
    fn dl_iterate_phdr(
        cb: extern "C" fn(*mut DlPhdrInfo, usize, *mut c_void) -> i32,
        data: *mut c_void,
    ) -> i32;
}

const PT_LOAD: u32 = 1;

extern "C" fn find_self(info: *mut DlPhdrInfo, _size: usize, data: *mut c_void) -> i32 {
    let me = soak_tls_id as *const () as usize;
    // SAFETY: dl_iterate_phdr hands out valid entries for the call.
    let info = unsafe { &*info };
    for i in 0..info.phnum as usize {
        let p = unsafe { &*info.phdr.add(i) };
        let start = info.addr + p.p_vaddr as usize;
        if p.p_type == PT_LOAD && me >= start && me - start < p.p_memsz as usize {
            unsafe { *(data as *mut usize) = info.tls_modid };
            return 1;
        }
    }
    0
}

/// This module's TLS module id as the loader reports it through
/// dl_iterate_phdr (0: not found, or no TLS).
#[no_mangle]
pub extern "C" fn soak_tls_id() -> usize {
    // Touches no thread_local with a destructor on the caller's thread:
    // the host's thread would then owe this module a destructor, and keep
    // it loaded until that thread exits.
    let mut id: usize = 0;
    unsafe { dl_iterate_phdr(find_self, &mut id as *mut usize as *mut c_void) };
    id
}
