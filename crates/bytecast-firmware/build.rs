//! Writes the `memory.x` of the QEMU machine the target runs on and links with cortex-m-rt's
//! `link.x`: the lm3s6965evb (Cortex-M3, 256 KiB flash, 64 KiB RAM) for thumbv7m, the micro:bit
//! (nRF51822, Cortex-M0, 256 KiB flash, 16 KiB RAM) for thumbv6m.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let small = target.starts_with("thumbv6m");
    let ram = if small { "16K" } else { "64K" };
    println!("cargo:rustc-check-cfg=cfg(small_ram)");
    if small {
        println!("cargo:rustc-cfg=small_ram");
    }
    let memory = format!(
        "MEMORY\n{{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n  RAM : ORIGIN = 0x20000000, LENGTH = {ram}\n}}\n"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    if target.starts_with("thumb") {
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
