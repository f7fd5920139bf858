//! Addresses signed with arm64's pointer authentication (in registers,
//! stack dumps, crash dumps): the code in the top bits is taken off before
//! a lookup, as the kernel's `ptrauth_strip_kernel_insn_pac` does. Which
//! bits hold a code is the architecture's fact (`host::ArchFacts`); the
//! architecture is the table's, by where its `_text` lies
//! (`host::arch_of_table`).

use crate::live::host::{arch_of_table, ArchFacts};
use crate::table::SymbolTable;

/// Bit 55 of a signed pointer: set for the kernel's half.
const KERNEL_HALF: u64 = 1 << 55;

/// How a table's kernel signs code addresses (made once per table).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointerAuth {
    bits: u64,
}

impl PointerAuth {
    /// The signing of `table`'s kernel: none where its architecture has
    /// no pointer authentication or its `_text` (`_stext`) is unknown.
    pub fn of(table: &SymbolTable) -> PointerAuth {
        PointerAuth::of_arch(arch_of_table(table))
    }

    /// The signing of `arch`'s kernels (`None`: an unknown one, none).
    pub fn of_arch(arch: Option<&ArchFacts>) -> PointerAuth {
        PointerAuth {
            bits: arch.map_or(0, |a| a.pointer_auth_bits),
        }
    }

    /// `addr` without its authentication code: a kernel-half pointer (bit
    /// 55 set) gets the code's bits set again; anything else is as given.
    pub fn strip(&self, addr: u64) -> u64 {
        if self.bits != 0 && addr & KERNEL_HALF != 0 {
            addr | self.bits
        } else {
            addr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_kernel_address_is_stripped_and_others_kept() {
        let arm64 = PointerAuth {
            bits: 0xffff_8000_0000_0000,
        };
        // `vfs_get_tree+0x30` of the 6.12 arm64 boot, signed (code 0x3a
        // in bits 63..56, 0x2b in 54..48).
        assert_eq!(arm64.strip(0x3aab_b067_71e4_b020), 0xffff_b067_71e4_b020);
        assert_eq!(arm64.strip(0xffff_b067_71e4_b020), 0xffff_b067_71e4_b020);
        // A user-half pointer (bit 55 clear) is not the kernel's.
        assert_eq!(arm64.strip(0x0012_0000_0040_1000), 0x0012_0000_0040_1000);
        assert_eq!(
            PointerAuth::default().strip(0x3aab_b067_71e4_b020),
            0x3aab_b067_71e4_b020
        );
    }
}
