//! Many addresses at once, the first time: the addresses are grouped by
//! the compilation unit `.debug_aranges` gives each, and the units not yet
//! read are read on several threads, each unit's context made, asked for
//! its addresses and dropped (so memory holds a few units, not all those a
//! batch touches). What a thread cannot settle (a unit that needs the
//! whole-file context, an address the first unit has no line for while
//! other units might) is asked the usual way afterwards, so a batch
//! answers exactly what [`LineContext::frames`] answers one by one.

use std::collections::BTreeMap;

use super::context::{frames_at, frames_in, LineContext};
use super::file::debug_error;
use super::units::{UnitMaker, Units};
use super::SourceFrame;
use crate::error::Result;

/// One address's answer, or `None`: left to the usual way.
type Settled = Option<std::result::Result<Vec<SourceFrame>, gimli::Error>>;

impl LineContext {
    /// [`LineContext::frames`] for each of `addrs`, in order, reading the
    /// units not yet read on up to `threads` threads.
    pub fn frames_batch(&self, addrs: &[u64], threads: usize) -> Vec<Result<Vec<SourceFrame>>> {
        let answered = self.with_units(|units, slide| {
            let probes: Vec<u64> = addrs.iter().map(|a| a.wrapping_sub(slide)).collect();
            let mut settled = settle_unread_units(units, &probes, threads.max(1));
            probes
                .iter()
                .zip(&mut settled)
                .map(|(probe, done)| done.take().unwrap_or_else(|| frames_in(units, *probe)))
                .collect::<Vec<_>>()
        });
        match answered {
            Ok(all) => all
                .into_iter()
                .zip(addrs)
                .map(|(r, a)| r.map_err(|e| debug_error(self.source(), &format!("at {a:#x}: {e}"))))
                .collect(),
            Err(e) => {
                // The file's one reason, for each address.
                let why = match &e {
                    crate::error::Error::DebugInfo { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                addrs
                    .iter()
                    .map(|_| Err(debug_error(self.source(), &why)))
                    .collect()
            }
        }
    }
}

/// The answers the units not yet read give, read on threads.
fn settle_unread_units(units: &Units, probes: &[u64], threads: usize) -> Vec<Settled> {
    let mut settled: Vec<Settled> = (0..probes.len()).map(|_| None).collect();
    if units.whole_only() {
        return settled;
    }
    // Unit -> (probe index, whether another unit could answer instead).
    let mut by_unit: BTreeMap<usize, Vec<(usize, bool)>> = BTreeMap::new();
    for (i, probe) in probes.iter().enumerate() {
        let candidates = units.candidates(*probe);
        if let Some(&unit) = candidates.first().filter(|u| !units.is_made(**u)) {
            by_unit
                .entry(unit)
                .or_default()
                .push((i, candidates.len() > 1));
        }
    }
    let groups: Vec<(usize, Vec<(usize, bool)>)> = by_unit.into_iter().collect();
    if groups.is_empty() {
        return settled;
    }
    let maker = units.maker();
    let threads = threads.min(groups.len());
    let answers: Vec<Vec<(usize, Settled)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (maker, groups) = (&maker, &groups);
                scope.spawn(move || {
                    let mine = groups.iter().skip(t).step_by(threads);
                    mine.flat_map(|(unit, asked)| answer_unit(maker, *unit, asked, probes))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (i, answer) in answers.into_iter().flatten() {
        settled[i] = answer;
    }
    settled
}

/// The answers of one unit's addresses from a context made for them.
fn answer_unit(
    maker: &UnitMaker,
    unit: usize,
    asked: &[(usize, bool)],
    probes: &[u64],
) -> Vec<(usize, Settled)> {
    let context = match maker.context(unit) {
        Ok(Some(context)) => context,
        // Needs the whole-file context: the usual way.
        Ok(None) => return Vec::new(),
        Err(e) => return asked.iter().map(|(i, _)| (*i, Some(Err(e)))).collect(),
    };
    asked
        .iter()
        .map(|&(i, others)| match frames_at(&context, probes[i]) {
            // Empty, and another unit might have a line: the usual way.
            Ok(frames) if frames.is_empty() && others => (i, None),
            answer => (i, Some(answer)),
        })
        .collect()
}
