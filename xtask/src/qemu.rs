//! `qemu`: the firmware crate (`crates/bytecast-firmware`, a workspace of its own) on emulated
//! Cortex-M machines.
//!
//! First runs the core's suites on the host with the `critical-section` feature. Then installs
//! what is missing (the thumbv7m and thumbv6m targets, `llvm-tools` for `llvm-size`,
//! and `qemu-system-arm` through apt-get), lints the firmware crate (clippy, warnings denied,
//! for both targets), builds every program of the firmware crate for each
//! machine into `target/firmware`, runs each under `qemu-system-arm` with semihosting and a
//! timeout (a hang fails the step), prints what the programs print, and then the flash and RAM
//! of `minimal` against `baseline` (the same program without the channel).

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::{
    cmd::{self, cargo, project_root, Tally},
    toolchain,
};

/// One emulated machine and the image built for it.
struct Machine {
    /// What the summary calls it.
    label: &'static str,
    target: &'static str,
    /// `qemu-system-arm -machine`.
    qemu: &'static str,
    /// Built with `--cfg bytecast_narrow_positions` (positions wrap every 4 MiB).
    narrow: bool,
    /// QEMU translates one instruction per block, so an interrupt can land between any two
    /// instructions (by default only between blocks, and a seqlock write is one block).
    one_insn: bool,
    /// The programs run on it.
    programs: &'static [&'static str],
}

const MACHINES: &[Machine] = &[
    Machine {
        label: "Cortex-M3 (lm3s6965evb)",
        target: "thumbv7m-none-eabi",
        qemu: "lm3s6965evb",
        narrow: false,
        one_insn: false,
        programs: &["scenarios", "superloop", "minimal", "baseline"],
    },
    Machine {
        label: "Cortex-M3, one instruction per block",
        target: "thumbv7m-none-eabi",
        qemu: "lm3s6965evb",
        narrow: false,
        one_insn: true,
        programs: &["scenarios"],
    },
    Machine {
        label: "Cortex-M3, narrowed positions",
        target: "thumbv7m-none-eabi",
        qemu: "lm3s6965evb",
        narrow: true,
        one_insn: false,
        programs: &["scenarios"],
    },
    Machine {
        label: "Cortex-M0 (micro:bit)",
        target: "thumbv6m-none-eabi",
        qemu: "microbit",
        narrow: false,
        one_insn: false,
        programs: &["scenarios", "superloop", "minimal", "baseline"],
    },
];

/// Longest run of one program; far above the slowest (about 15 s on the Cortex-M0 under a
/// loaded 2-core machine), so only a hang reaches it.
const TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn run(tally: &mut Tally) -> Result<()> {
    // The core's suites with the feature on the host, over critical-section's `std`
    // implementation: the critical sections nest and never deadlock.
    cmd::run_tests(
        cargo().args([
            "test",
            "-p",
            "bytecast",
            "--features",
            "critical-section",
            "--lib",
            "--tests",
        ]),
        tally,
    )?;
    for target in ["thumbv7m-none-eabi", "thumbv6m-none-eabi"] {
        toolchain::ensure_target(target)?;
    }
    toolchain::ensure_component("llvm-tools")?;
    ensure_qemu()?;
    let one_insn = one_insn_flags()?;
    for target in ["thumbv7m-none-eabi", "thumbv6m-none-eabi"] {
        cmd::run(
            cargo()
                .args(["clippy", "--release", "--bins", "--manifest-path"])
                .arg(firmware_manifest())
                .args(["--target", target, "--", "-D", "warnings"])
                .env("CARGO_TARGET_DIR", project_root().join("target/firmware"))
                .env_remove("RUSTFLAGS"),
        )?;
    }
    let mut failed = Vec::new();
    for machine in MACHINES {
        let dir = build(machine)?;
        for program in machine.programs {
            let elf = dir.join(program);
            println!("\n--- {program} on {}", machine.label);
            let flags = if machine.one_insn { &one_insn[..] } else { &[] };
            if let Err(error) = run_one(machine, &elf, flags) {
                eprintln!("--- {program} on {} FAILED: {error:#}", machine.label);
                failed.push(format!("{program} on {}", machine.label));
            }
        }
    }
    println!();
    footprint()?;
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

fn firmware_manifest() -> PathBuf {
    project_root()
        .join("crates")
        .join("bytecast-firmware")
        .join("Cargo.toml")
}

/// Builds every program for `machine`; returns the directory of the images.
fn build(machine: &Machine) -> Result<PathBuf> {
    let mut target_dir = project_root().join("target").join("firmware");
    if machine.narrow {
        target_dir = target_dir.join("narrow");
    }
    let mut build = cargo();
    build
        .args(["build", "--release", "--bins", "--manifest-path"])
        .arg(firmware_manifest())
        .args(["--target", machine.target])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS");
    if machine.narrow {
        build.env("RUSTFLAGS", "--cfg bytecast_narrow_positions");
    }
    cmd::run(&mut build)?;
    Ok(target_dir.join(machine.target).join("release"))
}

/// Runs one image to its semihosting exit, within [`TIMEOUT`]; its output goes to the
/// console and must end with the program's success line.
fn run_one(machine: &Machine, elf: &Path, flags: &[&str]) -> Result<()> {
    let log = elf.with_extension("log");
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args(["-machine", machine.qemu, "-nographic"])
        .args(flags)
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(File::create(&log).with_context(|| format!("create {}", log.display()))?);
    println!("$ {qemu:?}");
    let start = Instant::now();
    let mut child = qemu.spawn().context("cannot start qemu-system-arm")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let output = fs::read_to_string(&log).unwrap_or_default();
    print!("{output}");
    println!("({:.1} s)", start.elapsed().as_secs_f64());
    match status {
        None => bail!("no exit within {} s: a hang", TIMEOUT.as_secs()),
        Some(status) if !status.success() => bail!("exit {status}"),
        Some(_) if !output.lines().any(is_success_line) => bail!("no success line"),
        Some(_) => Ok(()),
    }
}

fn is_success_line(line: &str) -> bool {
    line == "ALL OK" || line.ends_with(": ok")
}

/// QEMU's flags for one instruction per translation block: `-accel tcg,one-insn-per-tb=on`
/// from QEMU 8.1, `-singlestep` before.
fn one_insn_flags() -> Result<Vec<&'static str>> {
    let version = cmd::read(Command::new("qemu-system-arm").arg("--version"))?;
    let number = version
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .context("`qemu-system-arm --version` prints no version")?;
    let mut parts = number.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    Ok(if (major, minor) >= (8, 1) {
        vec!["-accel", "tcg,one-insn-per-tb=on"]
    } else {
        vec!["-singlestep"]
    })
}

/// Installs `qemu-system-arm` with apt-get when it is not on `PATH` (with sudo unless root).
fn ensure_qemu() -> Result<()> {
    if cmd::read(Command::new("qemu-system-arm").arg("--version")).is_ok() {
        return Ok(());
    }
    let root = cmd::read(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    if cmd::run(&mut apt(&["install", "-y", "qemu-system-arm"])).is_err() {
        cmd::run(&mut apt(&["update"]))?;
        cmd::run(&mut apt(&["install", "-y", "qemu-system-arm"]))?;
    }
    Ok(())
}

/// `llvm-size` of the toolchain's `llvm-tools`.
fn llvm_size() -> Result<PathBuf> {
    let sysroot = cmd::read(Command::new("rustc").args(["--print", "sysroot"]))?;
    let version = cmd::read(Command::new("rustc").arg("-vV"))?;
    let host = version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .context("`rustc -vV` names no host")?;
    Ok(Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin/llvm-size"))
}

/// Flash (`.vector_table`, `.text`, `.rodata`, `.data`'s load image) and static RAM (`.data`,
/// `.bss`, `.uninit`) of an image, in bytes.
fn sizes(llvm_size: &Path, elf: &Path) -> Result<(u64, u64)> {
    let table = cmd::read(Command::new(llvm_size).arg("-A").arg(elf))?;
    let (mut flash, mut ram) = (0, 0);
    for line in table.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(size)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        match name {
            ".vector_table" | ".text" | ".rodata" => flash += size,
            ".data" => (flash, ram) = (flash + size, ram + size),
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    Ok((flash, ram))
}

/// Prints `minimal` against `baseline` on each machine that runs both.
fn footprint() -> Result<()> {
    let llvm_size = llvm_size()?;
    println!("footprint (llvm-size; RAM is static, the heap arena included):");
    println!(
        "{:<26} {:>12} {:>12} {:>12} {:>12}",
        "machine", "base flash", "+ bytecast", "base RAM", "+ bytecast"
    );
    for machine in MACHINES.iter().filter(|m| !m.narrow && !m.one_insn) {
        let dir = project_root()
            .join("target/firmware")
            .join(machine.target)
            .join("release");
        let (base_flash, base_ram) = sizes(&llvm_size, &dir.join("baseline"))?;
        let (flash, ram) = sizes(&llvm_size, &dir.join("minimal"))?;
        println!(
            "{:<26} {:>12} {:>12} {:>12} {:>12}",
            machine.label,
            base_flash,
            flash as i64 - base_flash as i64,
            base_ram,
            ram as i64 - base_ram as i64
        );
    }
    Ok(())
}
