//! The host's instruction-set features, for Cranelift's ISA flags.
//!
//! `cranelift_native` asks the CPU itself: the first `is_x86_feature_detected!`
//! of a process runs about ten `cpuid` instructions. Under a hypervisor each one
//! traps to it (6.5 µs apiece on the 2-core test machine), and that was 85 µs of
//! the JIT's setup, before the first function of a run could be compiled.
//! glibc has already asked them all, in the dynamic loader, and publishes the
//! answers (`<sys/platform/x86.h>`, since 2.33): for each feature whether the CPU
//! has it and whether it is *active*, i.e. usable (the OS saves the registers it
//! needs), which is what `is_x86_feature_detected!` reports too. So on x86-64
//! Linux with glibc the flags come from there; elsewhere, or with a glibc without
//! the function (looked up at run time, so the binary still starts on an older
//! one), from `cranelift_native`. A unit test checks that both give the same
//! flags on the machine it runs on.

use cranelift_codegen::isa;

/// An ISA builder for the host with the features it supports enabled.
pub fn isa_builder() -> Result<isa::Builder, String> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    if let Some(builder) = glibc::isa_builder() {
        return Ok(builder);
    }
    cranelift_native::builder().map_err(|e| format!("host not supported: {e}"))
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod glibc {
    use cranelift_codegen::isa;
    use cranelift_codegen::settings::Configurable;

    /// `struct cpuid_feature` of `<bits/platform/x86.h>`: a cpuid leaf's four
    /// registers (eax, ebx, ecx, edx) as the CPU gave them, and which of their
    /// feature bits are active.
    #[repr(C)]
    struct CpuidFeature {
        cpuid: [u32; 4],
        active: [u32; 4],
    }

    type LeafFn = unsafe extern "C" fn(u32) -> *const CpuidFeature;

    // The leaves (`CPUID_INDEX_*`) and registers of `<bits/platform/x86.h>`.
    const LEAF_1: u32 = 0;
    const LEAF_7: u32 = 1;
    const LEAF_80000001: u32 = 2;
    const LEAF_7_ECX_1: u32 = 6;
    const EAX: usize = 0;
    const EBX: usize = 1;
    const ECX: usize = 2;
    const EDX: usize = 3;

    /// Each Cranelift flag that `cranelift_native` sets, and the feature bit
    /// (leaf, register, bit) that `is_x86_feature_detected!` reads for it.
    const FLAGS: [(&str, u32, usize, u32); 19] = [
        ("has_cmpxchg16b", LEAF_1, ECX, 13),
        ("has_sse3", LEAF_1, ECX, 0),
        ("has_ssse3", LEAF_1, ECX, 9),
        ("has_sse41", LEAF_1, ECX, 19),
        ("has_sse42", LEAF_1, ECX, 20),
        ("has_popcnt", LEAF_1, ECX, 23),
        ("has_avx", LEAF_1, ECX, 28),
        ("has_avx2", LEAF_7, EBX, 5),
        ("has_fma", LEAF_1, ECX, 12),
        ("has_avx_vnni", LEAF_7_ECX_1, EAX, 4),
        ("has_avx512vnni", LEAF_7, ECX, 11),
        ("has_bmi1", LEAF_7, EBX, 3),
        ("has_bmi2", LEAF_7, EBX, 8),
        ("has_avx512bitalg", LEAF_7, ECX, 12),
        ("has_avx512dq", LEAF_7, EBX, 17),
        ("has_avx512f", LEAF_7, EBX, 16),
        ("has_avx512vl", LEAF_7, EBX, 31),
        ("has_avx512vbmi", LEAF_7, ECX, 1),
        ("has_lzcnt", LEAF_80000001, ECX, 5),
    ];

    /// SSE2, which Cranelift requires (leaf 1, edx bit 26).
    const SSE2: (u32, usize, u32) = (LEAF_1, EDX, 26);

    /// The builder with glibc's answers, or `None` if glibc does not publish
    /// them (or the CPU lacks SSE2: `cranelift_native` then says so).
    pub(super) fn isa_builder() -> Option<isa::Builder> {
        // SAFETY: a NUL-terminated name; `RTLD_DEFAULT` searches the objects
        // the process has loaded, glibc among them.
        let leaf = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__x86_get_cpuid_feature_leaf".as_ptr()) };
        if leaf.is_null() {
            return None;
        }
        // SAFETY: glibc's function of that name has this prototype
        // (`<sys/platform/x86.h>`).
        let leaf: LeafFn = unsafe { std::mem::transmute::<*mut libc::c_void, LeafFn>(leaf) };
        let active = |(index, reg, bit): (u32, usize, u32)| -> bool {
            // SAFETY: glibc returns a pointer to its static table for every
            // index (an all-zero entry for one it does not know).
            let f = unsafe { leaf(index) };
            // SAFETY: non-null pointers from it point at a `cpuid_feature`.
            !f.is_null() && unsafe { (*f).active[reg] } & (1 << bit) != 0
        };
        if !active(SSE2) {
            return None;
        }
        let mut builder = cranelift_native::builder_with_options(false).ok()?;
        for (flag, index, reg, bit) in FLAGS {
            if active((index, reg, bit)) {
                builder.enable(flag).ok()?;
            }
        }
        Some(builder)
    }

    #[cfg(test)]
    mod tests {
        use cranelift_codegen::settings;

        /// The ISA flags from glibc's table are the ones `cranelift_native`
        /// finds by asking the CPU.
        #[test]
        fn glibc_gives_the_flags_cpuid_gives() {
            let Some(from_glibc) = super::isa_builder() else {
                panic!("glibc 2.33 or later publishes the cpuid table");
            };
            let from_cpuid = cranelift_native::builder().expect("an x86-64 host");
            let flags = |b: cranelift_codegen::isa::Builder| {
                let isa = b
                    .finish(settings::Flags::new(settings::builder()))
                    .expect("an ISA");
                isa.isa_flags().iter().map(|v| v.to_string()).collect::<Vec<_>>()
            };
            assert_eq!(flags(from_glibc), flags(from_cpuid));
        }
    }
}
