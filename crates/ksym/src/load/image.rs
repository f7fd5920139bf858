//! A kernel image's own kallsyms tables (decoded by [`crate::parse::image`])
//! to a table.

use std::path::Path;

use super::LoadOptions;
use crate::error::Result;
use crate::parse::image::{read_image, ImageKallsyms};
use crate::parse::{ModuleFields, RawSymbol};
use crate::table::{SymbolTable, TableBuilder, TableInfo};

impl ImageKallsyms {
    /// Builds a symbol table, every non-absolute address moved by `slide`
    /// (0 for link-time addresses; absolute `A` symbols, the per-cpu ones on
    /// x86_64, never move).
    pub fn to_table(
        &self,
        source_name: &str,
        opts: &LoadOptions,
        slide: i64,
    ) -> Result<SymbolTable> {
        let mut builder = TableBuilder::new();
        let bytes: usize = self.symbols.iter().map(|s| s.name.len() + 1).sum();
        builder.reserve(self.symbols.len(), bytes * 2);
        for s in &self.symbols {
            let addr = if s.kind == b'A' {
                s.addr
            } else {
                s.addr.wrapping_add(slide as u64)
            };
            builder.push(&RawSymbol {
                addr,
                kind: s.kind,
                name: s.name.as_bytes(),
                path: None,
                modules: ModuleFields::default(),
                object: None,
                has_tab_module: false,
                kallmodsyms: false,
            });
        }
        if let Some(m) = &opts.modules {
            builder.set_modules(m.clone());
        }
        builder.build(TableInfo {
            source: source_name.to_string(),
            ..TableInfo::default()
        })
    }
}

/// Builds a table from a kernel image at link-time addresses.
pub fn load_image(path: &Path, opts: &LoadOptions) -> Result<SymbolTable> {
    let image = read_image(path)?;
    image.to_table(&path.display().to_string(), opts, 0)
}

/// An image's table where the running kernel has its symbols when the image
/// is the running kernel's (same build-id: moved by the KASLR slide
/// `/proc/kallsyms` gives), else at link-time addresses; with the image
/// read and a phrase saying which addresses these are.
pub fn load_image_placed(
    path: &Path,
    opts: &LoadOptions,
    limit: crate::read::Limit,
) -> Result<(SymbolTable, ImageKallsyms, String)> {
    use crate::parse::image::{matches_running_kernel, read_image_within, slide_from_live};
    let image = read_image_within(path, limit)?;
    let (slide, how) = match matches_running_kernel(&image) {
        Some(true) => match slide_from_live(&image) {
            Ok(slide) => (
                slide,
                format!("the running kernel's (KASLR slide {slide:#x})"),
            ),
            Err(e) => (
                0,
                format!("link-time (the running kernel's slide is unknown: {e})"),
            ),
        },
        _ => (0, "link-time (not the running kernel)".to_string()),
    };
    let table = image.to_table(&crate::read::source_name(path), opts, slide)?;
    Ok((table, image, how))
}
