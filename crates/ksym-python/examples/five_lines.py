"""The README's example (type-checked with mypy --strict in CI)."""

import ksym

kernel = ksym.open_live()  # as root; or ksym.open_file("kallsyms.xz"), ksym.open_snapshot(...)
addr = kernel.resolve("schedule+0x10")
print(kernel.lookup(addr))  # schedule+0x10/0xa0, as %pS prints it
for f in kernel.symbolize([addr, addr + 0x20, 0x1234]):  # or a numpy uint64 array
    print(hex(f.addr), f.name, f.module, f.offset, f.reason)
